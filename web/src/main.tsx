import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App.tsx';
import './styles/tokens.css';
import './styles/base.css';
import './styles/components.css';
import './styles/panel.css';
import './styles/patient.css';
import './styles/admin.css';
import './styles/telehealth.css'; // [tele]
import './styles/privacy.css'; // [sec]

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
