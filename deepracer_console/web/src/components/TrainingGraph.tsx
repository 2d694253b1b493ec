// The training graph as the console shows it: per iteration, the average reward, and the average
// percentage completion in training and in evaluation. Reward and progress have different
// scales, so they get a chart each (Cloudscape's LineChart has one y axis).
import Box from "@cloudscape-design/components/box";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import LineChart from "@cloudscape-design/components/line-chart";
import type { MetricsPoint } from "../types";

const empty = (
  <Box textAlign="center" color="inherit">
    <b>No iterations yet</b>
    <Box variant="p" color="inherit">
      The graph fills in after each policy-updating iteration.
    </Box>
  </Box>
);

// iterations are whole numbers: no label on a fractional tick
const iterationTick = (x: number) => (Number.isInteger(x) ? String(x) : "");

export default function TrainingGraph({ points, loading }: { points: MetricsPoint[]; loading?: boolean }) {
  const reward = points.map((p) => ({ x: p.iteration, y: p.average_reward }));
  const training = points.map((p) => ({ x: p.iteration, y: p.average_progress }));
  const evaluation = points
    .filter((p) => p.evaluation_progress !== null && p.evaluation_progress !== undefined)
    .map((p) => ({ x: p.iteration, y: p.evaluation_progress as number }));
  const last = points.length ? points[points.length - 1].iteration : 1;
  const first = points.length ? Math.min(...points.map((p) => p.iteration)) : 0;
  const xDomain: [number, number] = [first, Math.max(last, first + 1)];
  const rewards = reward.map((r) => r.y);
  const lo = Math.min(0, ...rewards);
  const hi = Math.max(1, ...rewards);
  const status = loading && !points.length ? "loading" : "finished";
  return (
    <ColumnLayout columns={2} variant="text-grid">
      <div data-testid="reward-graph">
        <LineChart
          series={[{ title: "Average reward", type: "line", data: reward, color: "#0972d3" }]}
          xDomain={xDomain}
          yDomain={[lo, hi + (hi - lo) * 0.05]}
          xScaleType="linear"
          xTitle="Iteration"
          yTitle="Reward"
          height={220}
          statusType={status}
          empty={empty}
          hideFilter
          ariaLabel="Average reward per iteration"
          i18nStrings={{ xTickFormatter: iterationTick }}
        />
      </div>
      <div data-testid="progress-graph">
        <LineChart
          series={[
            { title: "Average percentage completion (training)", type: "line", data: training, color: "#8456ce" },
            { title: "Average percentage completion (evaluation)", type: "line", data: evaluation, color: "#e07941" },
          ]}
          xDomain={xDomain}
          yDomain={[0, 100]}
          xScaleType="linear"
          xTitle="Iteration"
          yTitle="Percentage completion (%)"
          height={220}
          statusType={status}
          empty={empty}
          hideFilter
          ariaLabel="Average percentage completion per iteration"
          i18nStrings={{ xTickFormatter: iterationTick }}
        />
      </div>
    </ColumnLayout>
  );
}
