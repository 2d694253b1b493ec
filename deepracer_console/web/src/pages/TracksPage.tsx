// Tracks: the built-in tracks and uploaded routes, with pictures; upload a DeepRacer route .npy.
import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Cards from "@cloudscape-design/components/cards";
import Container from "@cloudscape-design/components/container";
import ContentLayout from "@cloudscape-design/components/content-layout";
import FileUpload from "@cloudscape-design/components/file-upload";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { api, messageOf } from "../api";
import { usePolled } from "../common";
import TrackImage from "../components/TrackImage";
import type { Track } from "../types";

const DIRECTION_WORDS: Record<string, string> = { counterclockwise: "counterclockwise", clockwise: "clockwise" };

export default function TracksPage() {
  const tracks = usePolled<Track[]>("/api/tracks");
  const [files, setFiles] = useState<File[]>([]);
  const [name, setName] = useState("");
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function upload() {
    if (!files.length) {
      setError("Choose a route .npy file.");
      return;
    }
    const form = new FormData();
    form.append("file", files[0]);
    if (name) form.append("name", name);
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      const track = await api.upload<Track>("/api/tracks", form);
      setDone(`Track ${track.name} added: ${track.length_m.toFixed(2)} m long, ${track.width_m.toFixed(2)} m wide.`);
      setFiles([]);
      setName("");
      tracks.reload();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <ContentLayout header={<Header variant="h1" description="Built-in tracks and the DeepRacer routes you uploaded.">Tracks</Header>}>
      <SpaceBetween size="l">
        <Container header={<Header variant="h2" description="A DeepRacer route file: an N×6 array of centre line, inner and outer border points (simapp routes/*.npy).">Upload a route</Header>}>
          <Form
            errorText={error}
            actions={<Button variant="primary" onClick={upload} loading={busy}>Upload track</Button>}
          >
            <SpaceBetween size="m">
              {done && <Alert type="success" dismissible onDismiss={() => setDone(undefined)}>{done}</Alert>}
              <FormField label="Route file (.npy)">
                <FileUpload
                  value={files}
                  onChange={(e) => { setFiles(e.detail.value); setError(undefined); }}
                  accept=".npy"
                  constraintText=".npy"
                  i18nStrings={{
                    uploadButtonText: () => "Choose file",
                    dropzoneText: () => "Drop a file to upload",
                    removeFileAriaLabel: (i) => `Remove file ${i + 1}`,
                    limitShowFewer: "Show fewer files",
                    limitShowMore: "Show more files",
                    errorIconAriaLabel: "Error",
                  }}
                />
              </FormField>
              <FormField label={<span>Track name <i>- optional</i></span>} description="Default: the file's name.">
                <Input value={name} onChange={(e) => setName(e.detail.value)} ariaLabel="Track name" />
              </FormField>
            </SpaceBetween>
          </Form>
        </Container>
        {tracks.error && <Alert type="error">{tracks.error}</Alert>}
        <Cards
          data-testid="tracks"
          loading={tracks.loading}
          items={tracks.data ?? []}
          trackBy="name"
          header={<Header counter={tracks.data ? `(${tracks.data.length})` : undefined}>Track library</Header>}
          cardsPerRow={[{ cards: 1 }, { minWidth: 600, cards: 2 }, { minWidth: 1000, cards: 3 }]}
          cardDefinition={{
            header: (t) => t.name,
            sections: [
              { id: "image", content: (t) => <TrackImage track={t} height={180} /> },
              { id: "description", content: (t) => t.description },
              { id: "length", header: "Length", content: (t) => `${t.length_m.toFixed(2)} m`, width: 33 },
              { id: "width", header: "Width", content: (t) => `${t.width_m.toFixed(2)} m`, width: 33 },
              { id: "source", header: "Source", content: (t) => (t.source === "builtin" ? "Built-in" : "Uploaded"), width: 33 },
              { id: "directions", header: "Directions", content: (t) => t.directions.map((d) => DIRECTION_WORDS[d] ?? d).join(", ") },
            ],
          }}
          empty={<Box textAlign="center">No tracks.</Box>}
        />
      </SpaceBetween>
    </ContentLayout>
  );
}
