import { builder } from './builder.js';
import './payloads.js';
import './account.js';
import './app.js';
import './environment.js';
import './directory.js';
import './client-binary.js';
import './publish-job.js';
import './management.js';
import './services.js';
import './store.js';
import './subscriptions.js';

export const buildSchema = () => builder.toSchema({ sortSchema: false });
