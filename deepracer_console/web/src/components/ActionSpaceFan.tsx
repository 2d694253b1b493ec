// The action space drawn as the DeepRacer console draws it: seen from above the car, one ray
// per discrete action (its steering angle, + = left; its length the speed), or for a continuous
// space the sector between the two steering limits and the two speed limits.
import Box from "@cloudscape-design/components/box";
import type { ContinuousActionSpace, DiscreteAction } from "../types";

const W = 420;
const H = 250;
const CX = W / 2;
const CY = H - 24;
const R = 200; // pixels for the outermost speed ring

function point(speed: number, steeringDeg: number, maxSpeed: number): [number, number] {
  const r = (speed / maxSpeed) * R;
  const a = (steeringDeg * Math.PI) / 180; // 0 = straight ahead, + = left
  return [CX - r * Math.sin(a), CY - r * Math.cos(a)];
}

function sectorPath(lo: number, hi: number, sLo: number, sHi: number, maxSpeed: number): string {
  const [x1, y1] = point(sHi, hi, maxSpeed);
  const [x2, y2] = point(sHi, lo, maxSpeed);
  const [x3, y3] = point(sLo, lo, maxSpeed);
  const [x4, y4] = point(sLo, hi, maxSpeed);
  const rHi = (sHi / maxSpeed) * R;
  const rLo = (sLo / maxSpeed) * R;
  return `M${x1},${y1} A${rHi},${rHi} 0 0 1 ${x2},${y2} L${x3},${y3} A${rLo},${rLo} 0 0 0 ${x4},${y4} Z`;
}

export default function ActionSpaceFan({
  discrete,
  continuous,
}: {
  discrete?: DiscreteAction[];
  continuous?: ContinuousActionSpace;
}) {
  const speeds = discrete?.map((a) => a.speed) ?? (continuous ? [continuous.speed.high] : [1]);
  const maxSpeed = Math.max(1, Math.ceil(Math.max(...speeds.filter(Number.isFinite), 0.1)));
  const rings = Array.from({ length: maxSpeed }, (_, i) => i + 1);
  const guides = [-30, -15, 0, 15, 30];
  return (
    <Box>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        width="100%"
        style={{ maxWidth: W }}
        role="img"
        aria-label="Action space: steering angles and speeds"
        data-testid="action-space-fan"
      >
        {rings.map((s) => {
          const [x1, y1] = point(s, 45, maxSpeed);
          const [x2, y2] = point(s, -45, maxSpeed);
          const r = (s / maxSpeed) * R;
          return (
            <g key={s}>
              <path d={`M${x1},${y1} A${r},${r} 0 0 1 ${x2},${y2}`} fill="none" stroke="#d1d5db" strokeDasharray="3 3" />
              <text x={x2 + 4} y={y2 + 4} fontSize="10" fill="#5f6b7a">
                {s} m/s
              </text>
            </g>
          );
        })}
        {guides.map((g) => {
          const [x, y] = point(maxSpeed, g, maxSpeed);
          return (
            <g key={g}>
              <line x1={CX} y1={CY} x2={x} y2={y} stroke="#e9ebed" />
              <text x={x} y={y - 4} fontSize="10" fill="#5f6b7a" textAnchor="middle">
                {g > 0 ? `+${g}°` : `${g}°`}
              </text>
            </g>
          );
        })}
        {continuous && (
          <path
            d={sectorPath(continuous.steering_angle.low, continuous.steering_angle.high, continuous.speed.low, continuous.speed.high, maxSpeed)}
            fill="rgba(0, 115, 187, 0.25)"
            stroke="#0073bb"
            data-testid="action-space-sector"
          />
        )}
        {discrete?.map((a, i) => {
          if (!Number.isFinite(a.speed) || !Number.isFinite(a.steering_angle)) return null;
          const [x, y] = point(a.speed, a.steering_angle, maxSpeed);
          return (
            <g key={i} data-testid="action-ray">
              <line x1={CX} y1={CY} x2={x} y2={y} stroke="#0073bb" strokeWidth="2" />
              <circle cx={x} cy={y} r="9" fill="#0073bb" />
              <text x={x} y={y + 3.5} fontSize="10" fill="#ffffff" textAnchor="middle">
                {i}
              </text>
            </g>
          );
        })}
        <rect x={CX - 9} y={CY - 2} width="18" height="24" rx="3" fill="#232f3e" />
        <text x={CX} y={H - 2} fontSize="9" fill="#ffffff" textAnchor="middle">
          car
        </text>
      </svg>
    </Box>
  );
}
