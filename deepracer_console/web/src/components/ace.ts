// Ace, bundled: the reward editor never fetches a script at run time (no CDN, works offline).
// Everything Cloudscape's CodeEditor asks ace for is registered here by import.
import ace from "ace-builds";
import "ace-builds/src-noconflict/mode-python";
import "ace-builds/src-noconflict/theme-cloud_editor";
import "ace-builds/src-noconflict/theme-cloud_editor_dark";
import "ace-builds/src-noconflict/ext-language_tools";
import "ace-builds/src-noconflict/snippets/python";

// Python mode has no syntax-check worker; the server's Validate does that check.
ace.config.set("loadWorkerFromBlob", false);

export default ace;
