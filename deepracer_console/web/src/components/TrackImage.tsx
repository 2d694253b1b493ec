import type { Track } from "../types";

/** The track's picture as the server draws it (PNG). */
export default function TrackImage({ track, height = 120 }: { track: Track; height?: number }) {
  const src = track.image_url || `/api/tracks/${encodeURIComponent(track.name)}/image`;
  return (
    <img
      src={src}
      alt={`Track ${track.name}`}
      style={{ width: "100%", height, objectFit: "contain", background: "#f4f4f4", borderRadius: 8 }}
      loading="lazy"
    />
  );
}
