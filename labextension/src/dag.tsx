/**
 * The pipeline drawn as SVG from layoutPipeline(): nodes coloured by phase (border) and,
 * when a run is shown, filled by step state; edges labelled with the variables they carry.
 */

import * as React from 'react';

import { IDagLayout } from './layout';
import {
  formatDuration,
  nodeFill,
  phaseColour,
  phasesPresent,
  statusStyle
} from './status';
import { IStepRun } from './types';

export interface IDagProps {
  layout: IDagLayout;
  /** Step states of the run shown, by step name; empty when no run is shown. */
  steps: Map<string, IStepRun>;
  onStepClick: (step: string) => void;
}

export function DagView(props: IDagProps): JSX.Element {
  const { layout, steps } = props;
  if (!layout.nodes.length) {
    return <div className="liminal-empty">No steps.</div>;
  }
  const phases = phasesPresent(layout.nodes.map(n => n.phase));
  return (
    <div className="liminal-dag">
      <svg
        className="liminal-dag-svg"
        width={layout.width}
        height={layout.height}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        role="img"
        aria-label="pipeline graph"
      >
        <defs>
          <marker
            id="liminal-arrow"
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" className="liminal-dag-arrow" />
          </marker>
        </defs>
        {layout.edges.map(edge => (
          <g
            key={`${edge.source}->${edge.target}`}
            className={`liminal-dag-edge liminal-dag-edge-${edge.kind}${
              edge.back ? ' liminal-dag-edge-back' : ''
            }`}
            data-source={edge.source}
            data-target={edge.target}
          >
            <title>{edge.title}</title>
            <path d={edge.path} markerEnd="url(#liminal-arrow)" />
            <text
              x={edge.labelX}
              y={edge.labelY}
              textAnchor={edge.labelAnchor}
              transform={
                edge.labelRotate
                  ? `rotate(${edge.labelRotate} ${edge.labelX} ${edge.labelY})`
                  : undefined
              }
              className="liminal-dag-edge-label"
            >
              {edge.label}
            </text>
          </g>
        ))}
        {layout.nodes.map(node => {
          const run = steps.get(node.name);
          const colours = nodeFill(node.phase, run?.status);
          const style = run ? statusStyle(run.status) : null;
          // Second line: the step's state in the run shown, else its phase when the
          // name does not already say it.
          const detail = run
            ? [style?.label, formatDuration(run.duration)].filter(Boolean).join(' · ')
            : node.phase && node.phase !== node.name
              ? node.phase
              : '';
          return (
            <g
              key={node.name}
              className={`liminal-dag-node${
                style?.active && run?.status === 'running' ? ' liminal-dag-node-running' : ''
              }`}
              data-step={node.name}
              data-status={run?.status ?? ''}
              transform={`translate(${node.x}, ${node.y})`}
              onClick={() => props.onStepClick(node.name)}
            >
              <title>
                {`step ${node.name}${node.phase ? `, phase ${node.phase}` : ''}${
                  run ? `: ${run.status}` : ''
                } (click: go to its first cell)`}
              </title>
              <rect
                width={node.width}
                height={node.height}
                rx={6}
                ry={6}
                fill={colours.fill}
                stroke={colours.stroke}
                strokeWidth={run ? 3 : 1}
              />
              <text
                x={node.width / 2}
                y={detail ? 15 : 22}
                textAnchor="middle"
                className="liminal-dag-node-name"
                fill={colours.text}
              >
                {clip(node.name, 16)}
              </text>
              <text
                x={node.width / 2}
                y={29}
                textAnchor="middle"
                className="liminal-dag-node-detail"
                fill={colours.text}
              >
                {clip(detail, 20)}
              </text>
            </g>
          );
        })}
      </svg>
      {phases.length > 0 && (
        <div className="liminal-dag-legend">
          {phases.map(phase => (
            <span key={phase} className="liminal-dag-legend-item">
              <span
                className="liminal-swatch"
                style={{ background: phaseColour(phase) }}
              />
              {phase}
            </span>
          ))}
        </div>
      )}
      {layout.dangling.length > 0 && (
        <div className="liminal-dag-dangling">
          {layout.dangling.map(e => (
            <div key={`${e.source}->${e.target}`}>
              {e.target} after unknown step {e.source}
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
