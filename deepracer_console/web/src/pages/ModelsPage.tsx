import { useNavigate } from "react-router-dom";
import { useCollection } from "@cloudscape-design/collection-hooks";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ContentLayout from "@cloudscape-design/components/content-layout";
import Header from "@cloudscape-design/components/header";
import Pagination from "@cloudscape-design/components/pagination";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table, { TableProps } from "@cloudscape-design/components/table";
import TextFilter from "@cloudscape-design/components/text-filter";
import { AppLink, formatDate, formatLapTime, formatPercent, ModelStatusIndicator, statusLabel, usePolled } from "../common";
import { useAuth } from "../components/Auth";
import type { Model } from "../types";

const ALGORITHMS: Record<string, string> = { ppo: "PPO", sac: "SAC" };

const columns: TableProps.ColumnDefinition<Model>[] = [
  { id: "name", header: "Name", cell: (m) => <AppLink href={`/models/${m.id}`}>{m.name}</AppLink>, sortingField: "name" },
  {
    id: "status",
    header: "Status",
    cell: (m) => <ModelStatusIndicator status={m.status} reason={m.failure_reason} />,
    sortingField: "status",
    minWidth: 150,
  },
  { id: "track", header: "Track", cell: (m) => m.track, sortingField: "track" },
  { id: "algorithm", header: "Algorithm", cell: (m) => ALGORITHMS[m.algorithm] ?? m.algorithm, sortingField: "algorithm" },
  {
    id: "action_space_type",
    header: "Action space type",
    cell: (m) => (m.action_space_type === "continuous" ? "Continuous" : "Discrete"),
    sortingField: "action_space_type",
  },
  { id: "created_at", header: "Creation time", cell: (m) => formatDate(m.created_at), sortingField: "created_at" },
  {
    id: "best_progress",
    header: "Best evaluation progress",
    cell: (m) => formatPercent(m.best_progress),
    sortingComparator: (a, b) => (a.best_progress ?? -1) - (b.best_progress ?? -1),
  },
  {
    id: "best_lap_time",
    header: "Best lap time",
    cell: (m) => formatLapTime(m.best_lap_time_s),
    sortingComparator: (a, b) => (a.best_lap_time_s ?? Infinity) - (b.best_lap_time_s ?? Infinity),
  },
];

export default function ModelsPage() {
  const navigate = useNavigate();
  const auth = useAuth();
  const models = usePolled<Model[]>("/api/models", 3000);
  const { items, collectionProps, filterProps, filteredItemsCount, paginationProps } = useCollection(models.data ?? [], {
    filtering: {
      // the filter matches every column a user reads, status words included
      filteringFunction: (m, text) =>
        [m.name, m.description, statusLabel(m.status), m.failure_reason, m.track, m.algorithm, m.action_space_type, m.source]
          .filter(Boolean)
          .some((v) => String(v).toLowerCase().includes(text.toLowerCase())),
      empty: (
        <Box textAlign="center" color="inherit">
          <b>No models</b>
          <Box padding={{ bottom: "s" }} variant="p" color="inherit">
            Create a model to start training, or import one.
          </Box>
          <Button onClick={() => navigate("/models/create")}>Create model</Button>
        </Box>
      ),
      noMatch: <Box textAlign="center">No model matches the filter.</Box>,
    },
    sorting: { defaultState: { sortingColumn: columns[5], isDescending: true } },
    pagination: { pageSize: 25 },
  });

  return (
    <ContentLayout>
      <SpaceBetween size="m">
        {models.error && <Alert type="error" header="Could not load the models">{models.error}</Alert>}
        <Table
          {...collectionProps}
          data-testid="models-table"
          items={items}
          columnDefinitions={
            auth.managesRaces && !auth.singleUser
              ? [...columns, { id: "owner", header: "Owner", cell: (m: Model) => m.owner ?? "-", sortingField: "owner" }]
              : columns
          }
          loading={models.loading}
          loadingText="Loading models"
          variant="full-page"
          stickyHeader
          wrapLines
          header={
            <Header
              variant="awsui-h1-sticky"
              description="Train a model, watch it learn, evaluate it and download it for the car."
              counter={models.data ? `(${models.data.length})` : undefined}
              actions={
                <SpaceBetween direction="horizontal" size="xs">
                  <Button iconName="refresh" ariaLabel="Refresh" onClick={models.reload} />
                  <Button onClick={() => navigate("/models/import")}>Import model</Button>
                  <Button variant="primary" onClick={() => navigate("/models/create")}>
                    Create model
                  </Button>
                </SpaceBetween>
              }
            >
              Your models
            </Header>
          }
          filter={
            <TextFilter
              {...filterProps}
              filteringPlaceholder="Find models"
              filteringAriaLabel="Filter models"
              countText={filteredItemsCount === 1 ? "1 match" : `${filteredItemsCount ?? 0} matches`}
            />
          }
          pagination={<Pagination {...paginationProps} />}
        />
      </SpaceBetween>
    </ContentLayout>
  );
}
