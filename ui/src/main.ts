import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";
import { i18n, setLanguage } from "./lib/i18n/index.svelte";
import { applyTheme, theme } from "./lib/theme.svelte";

setLanguage(i18n.lang);
applyTheme(theme.mode);
const target = document.getElementById("app");
if (!target) throw new Error("index.html has no #app element");
export default mount(App, { target });
