/** Renderer entry: builds the api client and mounts the app. */
import { mount } from 'svelte';
import App from './App.svelte';
import { createApi } from './api/client';
import { AppState } from './lib/app.svelte.js';
import './app.css';

const target = document.getElementById('app');
if (!target) throw new Error('missing #app element');

const app = new AppState(createApi());
mount(App, { target, props: { app } });
void app.start().then(() => {
  document.body.dataset.ready = 'true';
});
