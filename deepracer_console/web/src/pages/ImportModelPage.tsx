// Import model: a model package or a training folder (.tar.gz). A refusal shows the server's reason.
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import ContentLayout from "@cloudscape-design/components/content-layout";
import FileUpload from "@cloudscape-design/components/file-upload";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import Select from "@cloudscape-design/components/select";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { api, ApiError, messageOf } from "../api";
import { usePolled } from "../common";
import type { Model, Track } from "../types";

export default function ImportModelPage() {
  const navigate = useNavigate();
  const [files, setFiles] = useState<File[]>([]);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [track, setTrack] = useState<string>();
  const tracks = usePolled<Track[]>("/api/tracks");
  const [error, setError] = useState<{ message: string; field?: string }>();
  const [busy, setBusy] = useState(false);

  async function submit() {
    if (!files.length) {
      setError({ message: "Choose a .tar.gz file to import.", field: "file" });
      return;
    }
    const form = new FormData();
    form.append("file", files[0]);
    if (name) form.append("name", name);
    if (description) form.append("description", description);
    if (track) form.append("track", track);
    setBusy(true);
    setError(undefined);
    try {
      const result = await api.upload<{ model: Model }>("/api/models/import", form);
      navigate(`/models/${result.model.id}`);
    } catch (err) {
      setError({ message: messageOf(err), field: err instanceof ApiError ? err.field : undefined });
    } finally {
      setBusy(false);
    }
  }

  const fieldError = (f: string) => (error?.field === f ? error.message : undefined);
  return (
    <ContentLayout header={<Header variant="h1" description="Bring in a model trained elsewhere: DeepRacer on AWS, DeepRacer-for-Cloud or this project.">Import model</Header>}>
      <form onSubmit={(e) => { e.preventDefault(); submit(); }}>
        <Form
          errorText={error && !["name", "description", "file", "track"].includes(error.field ?? "") ? error.message : undefined}
          errorIconAriaLabel="Error"
          actions={
            <SpaceBetween direction="horizontal" size="xs">
              <Button formAction="none" variant="link" onClick={() => navigate("/models")}>Cancel</Button>
              <Button variant="primary" loading={busy}>Import model</Button>
            </SpaceBetween>
          }
        >
          <Container header={<Header variant="h2">Model file</Header>}>
            <SpaceBetween size="l">
              <FormField
                label="Model package or training folder"
                description="A .tar.gz: the model package a car loads (model_metadata.json and the model), or a whole training folder (with reward_function.py, hyperparameters.json, training_params.yaml, checkpoints and metrics)."
                errorText={fieldError("file")}
              >
                <FileUpload
                  value={files}
                  onChange={(e) => { setFiles(e.detail.value); setError(undefined); }}
                  accept=".gz,.tgz,application/gzip"
                  constraintText=".tar.gz or .tgz"
                  i18nStrings={{
                    uploadButtonText: () => "Choose file",
                    dropzoneText: () => "Drop a file to upload",
                    removeFileAriaLabel: (i) => `Remove file ${i + 1}`,
                    limitShowFewer: "Show fewer files",
                    limitShowMore: "Show more files",
                    errorIconAriaLabel: "Error",
                  }}
                  showFileSize
                />
              </FormField>
              <FormField label={<span>Model name <i>- optional</i></span>} description="Default: the name in the file." errorText={fieldError("name")}>
                <Input value={name} onChange={(e) => setName(e.detail.value)} ariaLabel="Model name" />
              </FormField>
              <FormField label={<span>Description <i>- optional</i></span>} errorText={fieldError("description")}>
                <Input value={description} onChange={(e) => setDescription(e.detail.value)} ariaLabel="Description" />
              </FormField>
              <FormField label={<span>Track <i>- optional</i></span>} description="The track it was trained on (default: the default track)." errorText={fieldError("track")}>
                <Select
                  selectedOption={track ? { value: track, label: track } : null}
                  placeholder="Default track"
                  options={(tracks.data ?? []).map((t) => ({ value: t.name, label: t.name }))}
                  onChange={(e) => setTrack(e.detail.selectedOption.value)}
                  ariaLabel="Track"
                />
              </FormField>
            </SpaceBetween>
          </Container>
        </Form>
      </form>
    </ContentLayout>
  );
}
