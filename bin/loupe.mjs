#!/usr/bin/env node
// The `loupe` command. The CLI is TypeScript run through tsx, so it works straight after install.
import { register } from 'tsx/esm/api';

register();
await import('../src/main/cli/main.ts');
