// The races (GET /api/races): public ones for everybody, private ones for facilitators;
// facilitators create races here.
import { useEffect, useState } from "react";
import { useNavigate } from "react-router-dom";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ContentLayout from "@cloudscape-design/components/content-layout";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import Table from "@cloudscape-design/components/table";
import { AppLink, formatDate, usePolled } from "../common";
import { useAuth } from "../components/Auth";
import { api } from "../api";
import { RACE_TYPE_LABELS, rankingText, rememberedInvites, withInvite } from "../components/RaceParts";
import type { Race } from "../types";

export function RaceState({ race }: { race: Race }) {
  if (race.is_open) return <StatusIndicator type="success">Open</StatusIndicator>;
  if (new Date(race.opens_at).getTime() > Date.now()) return <StatusIndicator type="pending">Opens {formatDate(race.opens_at)}</StatusIndicator>;
  return <StatusIndicator type="stopped">Closed</StatusIndicator>;
}

/** Private races this browser was invited to (their invite links), unless the list has them already. */
function useInvitedRaces(listed?: Race[]): (Race & { invite?: string })[] {
  const [found, setFound] = useState<(Race & { invite?: string })[]>([]);
  const listedIds = (listed ?? []).map((r) => r.id).join(",");
  useEffect(() => {
    let cancelled = false;
    const have = new Set(listedIds.split(",").filter(Boolean).map(Number));
    const wanted = Object.entries(rememberedInvites()).filter(([id]) => !have.has(Number(id)));
    Promise.all(
      wanted.map(([id, invite]) =>
        api
          .get<Race>(withInvite(`/api/races/${id}`, invite))
          .then((r) => ({ ...r, invite }))
          .catch(() => undefined),
      ),
    ).then((all) => {
      if (!cancelled) setFound(all.filter((r): r is Race & { invite: string } => !!r));
    });
    return () => {
      cancelled = true;
    };
  }, [listedIds]);
  return found;
}

export default function RacesPage() {
  const auth = useAuth();
  const navigate = useNavigate();
  const listed = usePolled<Race[]>("/api/races", 10000);
  const invited = useInvitedRaces(listed.data);
  const races = { ...listed, data: listed.data ? [...listed.data, ...invited] : undefined };
  return (
    <ContentLayout>
      <SpaceBetween size="m">
        {races.error && <Alert type="error" header="Could not load the races">{races.error}</Alert>}
        <Table
          data-testid="races-table"
          items={races.data ?? []}
          loading={races.loading}
          loadingText="Loading races"
          variant="full-page"
          wrapLines
          header={
            <Header
              variant="awsui-h1-sticky"
              counter={races.data ? `(${races.data.length})` : undefined}
              description={
                auth.managesRaces
                  ? "Community races: racers submit their models; each submission drives the race's settings with the same seed."
                  : "Submit one of your models to a race; it drives the race's settings with the same seed as everyone's. Private races open with their invite link."
              }
              actions={
                auth.managesRaces && (
                  <Button variant="primary" onClick={() => navigate("/races/create")}>
                    Create race
                  </Button>
                )
              }
            >
              Races
            </Header>
          }
          empty={
            <Box textAlign="center" color="inherit">
              <b>No races</b>
              <Box variant="p" color="inherit">
                {auth.managesRaces ? "Create a race for your racers." : "No public race yet; a private race opens with its invite link."}
              </Box>
            </Box>
          }
          columnDefinitions={[
            {
              id: "name",
              header: "Name",
              cell: (r: Race & { invite?: string }) => <AppLink href={withInvite(`/races/${r.id}`, r.invite)}>{r.name}</AppLink>,
            },
            { id: "state", header: "State", cell: (r) => <RaceState race={r} /> },
            { id: "track", header: "Track", cell: (r) => `${r.track} (${r.direction})` },
            { id: "type", header: "Race type", cell: (r) => `${RACE_TYPE_LABELS[r.race_type] ?? r.race_type}${r.physical ? " · physical" : ""}` },
            { id: "ranking", header: "Ranking", cell: rankingText },
            { id: "closes", header: "Closes", cell: (r) => formatDate(r.closes_at) },
            { id: "private", header: "Access", cell: (r: Race & { invite?: string }) => (r.private ? (r.invite ? "Private (invited)" : "Private") : "Public") },
          ]}
        />
      </SpaceBetween>
    </ContentLayout>
  );
}
