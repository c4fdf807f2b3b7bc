import { mount } from "svelte";
import App from "./App.svelte";
import { api } from "./lib/api";
import "./app.css";

const app = mount(App, { target: document.getElementById("app")! });
// A timeout set in a frame callback runs once that frame is painted: the window's first paint,
// which the app logs with the time since its launch (scripts/bench memory reports it).
requestAnimationFrame(() => setTimeout(() => api.firstPaint().catch(() => {}), 0));

export default app;
