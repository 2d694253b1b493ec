// The action space drawn as the DeepRacer console draws it: seen from above the car, a fan with
// one ray per discrete action (its steering angle, + = left; its length the speed), or for a
// continuous space the sector between the two steering limits and the two speed limits.
// Angles are spread 2.5x on screen so that ±30° fills a wide fan; the labels give true degrees.
import Box from "@cloudscape-design/components/box";
import type { ContinuousActionSpace, DiscreteAction } from "../types";

const W = 460;
const H = 270;
const CX = W / 2;
const CY = H - 30;
const R = 190; // pixels for the outermost speed ring
const SPREAD = 2.5;

function point(speed: number, steeringDeg: number, maxSpeed: number, extra = 0): [number, number] {
  const r = (speed / maxSpeed) * R + extra;
  const a = (steeringDeg * SPREAD * Math.PI) / 180; // 0 = straight ahead, + = left
  return [CX - r * Math.sin(a), CY - r * Math.cos(a)];
}

function arc(speed: number, fromDeg: number, toDeg: number, maxSpeed: number): string {
  const [x1, y1] = point(speed, fromDeg, maxSpeed);
  const [x2, y2] = point(speed, toDeg, maxSpeed);
  const r = (speed / maxSpeed) * R;
  const sweep = fromDeg > toDeg ? 1 : 0; // left to right is clockwise on screen
  return `M${x1},${y1} A${r},${r} 0 0 ${sweep} ${x2},${y2}`;
}

function rings(maxSpeed: number): number[] {
  const step = maxSpeed <= 1 ? 0.25 : maxSpeed <= 2 ? 0.5 : 1;
  const out: number[] = [];
  for (let s = step; s <= maxSpeed + 1e-9; s += step) out.push(Math.round(s * 100) / 100);
  return out;
}

export default function ActionSpaceFan({ discrete, continuous }: { discrete?: DiscreteAction[]; continuous?: ContinuousActionSpace }) {
  const speeds = (discrete?.map((a) => a.speed) ?? (continuous ? [continuous.speed.high] : [1])).filter(Number.isFinite);
  const top = Math.max(0.5, ...speeds);
  const maxSpeed = top <= 1 ? 1 : top <= 2 ? 2 : Math.ceil(top);
  const guides = [30, 15, 0, -15, -30];
  const c = continuous;
  return (
    <Box>
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" style={{ maxWidth: W }} role="img" aria-label="Action space: steering angles and speeds" data-testid="action-space-fan">
        {rings(maxSpeed).map((s) => {
          const [lx, ly] = point(s, -30, maxSpeed);
          return (
            <g key={s}>
              <path d={arc(s, 30, -30, maxSpeed)} fill="none" stroke="#c6c6cd" strokeDasharray="3 3" />
              <text x={lx + 4} y={ly + 12} fontSize="10" fill="#5f6b7a">
                {s} m/s
              </text>
            </g>
          );
        })}
        {guides.map((g) => {
          const [x, y] = point(maxSpeed, g, maxSpeed);
          const [tx, ty] = point(maxSpeed, g, maxSpeed, 14);
          return (
            <g key={g}>
              <line x1={CX} y1={CY} x2={x} y2={y} stroke="#e9ebed" />
              <text x={tx} y={ty + 4} fontSize="11" fill="#5f6b7a" textAnchor="middle">
                {g > 0 ? `+${g}°` : `${g}°`}
              </text>
            </g>
          );
        })}
        {c && (
          <path
            data-testid="action-space-sector"
            d={`${arc(c.speed.high, c.steering_angle.high, c.steering_angle.low, maxSpeed)} L${point(c.speed.low, c.steering_angle.low, maxSpeed).join(",")} ${arc(
              c.speed.low, c.steering_angle.low, c.steering_angle.high, maxSpeed).replace(/^M[^A]*/, "")} Z`}
            fill="rgba(9, 114, 211, 0.22)"
            stroke="#0972d3"
            strokeWidth="2"
          />
        )}
        {discrete?.map((a, i) => {
          if (!Number.isFinite(a.speed) || !Number.isFinite(a.steering_angle)) return null;
          const [x, y] = point(a.speed, a.steering_angle, maxSpeed);
          return (
            <g key={i} data-testid="action-ray">
              <line x1={CX} y1={CY} x2={x} y2={y} stroke="#0972d3" strokeWidth="2" />
              <circle cx={x} cy={y} r="10" fill="#0972d3" />
              <text x={x} y={y + 4} fontSize="11" fill="#ffffff" textAnchor="middle">
                {i}
              </text>
            </g>
          );
        })}
        <rect x={CX - 10} y={CY - 4} width="20" height="28" rx="4" fill="#232f3e" />
        <text x={CX + 16} y={CY + 18} fontSize="10" fill="#5f6b7a">
          car (left is +)
        </text>
      </svg>
    </Box>
  );
}
