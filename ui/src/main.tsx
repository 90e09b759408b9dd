import { render } from "preact";

import { App } from "./App";
import { applyTheme, storedTheme } from "./lib/theme";
import "./styles.css";

applyTheme(storedTheme());
render(<App />, document.getElementById("root") as HTMLElement);
