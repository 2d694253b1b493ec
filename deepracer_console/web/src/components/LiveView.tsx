// The live view of the car while it trains: the server's latest frame (camera image beside a
// top-down view of the track), fetched several times a second while the page is open.
import { useEffect, useRef, useState } from "react";
import Box from "@cloudscape-design/components/box";
import StatusIndicator from "@cloudscape-design/components/status-indicator";

const FRAME_INTERVAL_MS = 200; // 5 frames a second

export default function LiveView({ url, active }: { url: string; active: boolean }) {
  const [src, setSrc] = useState<string>();
  const [frames, setFrames] = useState(0);
  const [waiting, setWaiting] = useState(true);
  const current = useRef<string>();

  useEffect(() => {
    if (!active) return;
    let stopped = false;
    let timer: number | undefined;
    const next = async () => {
      try {
        const response = await fetch(url, { cache: "no-store" });
        if (response.ok) {
          const blob = await response.blob();
          if (stopped) return;
          const objectUrl = URL.createObjectURL(blob);
          if (current.current) URL.revokeObjectURL(current.current);
          current.current = objectUrl;
          setSrc(objectUrl);
          setFrames((n) => n + 1);
          setWaiting(false);
        } else if (response.status === 404) {
          setWaiting(true); // no frame written yet
        }
      } catch {
        // server busy or restarting: try again on the next tick
      }
      if (!stopped) timer = window.setTimeout(next, FRAME_INTERVAL_MS);
    };
    next();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [url, active]);

  useEffect(() => () => {
    if (current.current) URL.revokeObjectURL(current.current);
  }, []);

  return (
    <Box>
      {src ? (
        <img
          src={src}
          alt="Live view: camera image and top-down view"
          data-testid="live-frame"
          style={{ display: "block", width: "100%", maxWidth: 960, borderRadius: 8 }}
        />
      ) : (
        <Box textAlign="center" padding="xl" color="text-status-inactive">
          {active ? <StatusIndicator type="loading">Waiting for the first frame from the simulator</StatusIndicator> : "The live view shows while the model trains."}
        </Box>
      )}
      <Box variant="p" fontSize="body-s" color="text-body-secondary" data-testid="live-status">
        {active ? (waiting && frames === 0 ? "Waiting" : `Live: ${frames} frames received`) : src ? `Last frame (training ended); ${frames} frames received` : ""}
      </Box>
    </Box>
  );
}
