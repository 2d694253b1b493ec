// The reward function in Cloudscape's code editor (ace: Python highlighting, line numbers).
// A validation error from the server is put on its line as an editor annotation.
import { useEffect, useRef, useState } from "react";
import CodeEditor, { CodeEditorProps } from "@cloudscape-design/components/code-editor";
import ace from "./ace";

export interface RewardError {
  message: string;
  line?: number | null;
}

export default function RewardEditor({
  value,
  onChange,
  error,
  readOnly = false,
}: {
  value: string;
  onChange?: (value: string) => void;
  error?: RewardError | null;
  readOnly?: boolean;
}) {
  const [preferences, setPreferences] = useState<Partial<CodeEditorProps.Preferences>>({ wrapLines: false, theme: "cloud_editor" });
  const host = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const element = host.current?.querySelector<HTMLElement>(".ace_editor");
    if (!element) return;
    const editor = ace.edit(element); // the editor already attached to that element
    editor.setReadOnly(readOnly);
    if (error?.line) {
      editor.session.setAnnotations([{ row: error.line - 1, column: 0, text: error.message, type: "error" }]);
    } else {
      editor.session.clearAnnotations();
    }
  });

  return (
    <div ref={host} data-testid="reward-editor">
      <CodeEditor
        ace={ace}
        language="python"
        value={value}
        onDelayedChange={(event) => onChange?.(event.detail.value)}
        preferences={preferences}
        onPreferencesChange={(event) => setPreferences(event.detail)}
        themes={{ light: ["cloud_editor"], dark: ["cloud_editor_dark"] }}
        editorContentHeight={360}
        loading={false}
        ariaLabel="Reward function"
        i18nStrings={{
          loadingState: "Loading code editor",
          errorState: "There was an error loading the code editor.",
          errorStateRecovery: "Retry",
          editorGroupAriaLabel: "Reward function editor",
          statusBarGroupAriaLabel: "Status bar",
          cursorPosition: (row, column) => `Ln ${row}, Col ${column}`,
          errorsTab: "Errors",
          warningsTab: "Warnings",
          preferencesButtonAriaLabel: "Preferences",
          paneCloseButtonAriaLabel: "Close",
          preferencesModalHeader: "Preferences",
          preferencesModalCancel: "Cancel",
          preferencesModalConfirm: "Confirm",
          preferencesModalWrapLines: "Wrap lines",
          preferencesModalTheme: "Theme",
          preferencesModalLightThemes: "Light themes",
          preferencesModalDarkThemes: "Dark themes",
          resizeHandleAriaLabel: "Resize editor",
          resizeHandleTooltipText: "Drag to resize",
        }}
      />
    </div>
  );
}
