/** The panel's icon: three steps of a small DAG. */

import { LabIcon } from '@jupyterlab/ui-components';

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="8" y="2" width="8" height="5" rx="1.5"/>
    <rect x="2" y="17" width="8" height="5" rx="1.5"/>
    <rect x="14" y="17" width="8" height="5" rx="1.5"/>
    <path d="M11.2 7h1.6v4.2H18a1 1 0 0 1 1 1V17h-1.6v-4.2H6.6V17H5v-4.8a1 1 0 0 1 1-1h5.2z"/>
  </g>
</svg>`;

export const liminalIcon = new LabIcon({ name: 'liminal-jupyter:pipeline', svgstr: svg });
