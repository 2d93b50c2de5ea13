/**
 * The pipeline drawn with React Flow (@xyflow/react) from ELK's layout (elk.ts): nodes
 * coloured by phase (border) and, when a run is shown, filled by step state; routed edges
 * labelled with the variables they carry.
 *
 * Two modes. In the side panel the drawing is never scaled (text stays 11-12 px): it is
 * as large as the layout and the panel scrolls, sideways too, when it is wider. In the
 * main-area tab it fits the view at first and zooms and pans freely (React Flow's
 * controls: zoom in, zoom out, fit to view).
 */

import * as React from 'react';

import {
  ControlButton,
  Controls,
  Edge,
  EdgeProps,
  Handle,
  MarkerType,
  Node,
  NodeProps,
  Position,
  ReactFlow,
  ReactFlowInstance
} from '@xyflow/react';

import { fitViewport, MIN_READABLE_ZOOM } from './fit';
import { layoutPipeline, shapeKey } from './elk';
import { routePath } from './route';
import { IDagEdge, IDagLayout, IDagNode, LABEL_FONT_PX, LABEL_LINE_PX } from './graph';
import { notebookColours, notebookLabel } from './pipefile';
import { fanOutText, IFanOut } from './runstate';
import { formatDuration, nodeFill, phaseColour, phasesPresent, statusStyle } from './status';
import { IPipeline, IStepRun } from './types';

export interface IDagProps {
  pipeline: IPipeline;
  /** Step states of the run shown, by step name; empty when no run is shown. */
  steps: Map<string, IStepRun>;
  onStepClick: (step: string) => void;
  /** The run's fan-out steps: element counts by step name (runstate.ts). */
  fanouts?: Map<string, IFanOut>;
  /** 'panel': unscaled, scrolls; 'main': fits the view, zooms and pans. */
  mode?: 'panel' | 'main';
}

type StepNodeData = {
  node: IDagNode;
  run: IStepRun | undefined;
  fan: IFanOut | undefined;
  /** Its notebook's colour, in a pipeline of several notebooks. */
  band: string | undefined;
};
type StepNode = Node<StepNodeData, 'step'>;
type StepEdgeData = { edge: IDagEdge };
type StepEdge = Edge<StepEdgeData, 'step'>;

/** The layout of `pipeline` once ELK has placed it; null meanwhile. */
export function useDagLayout(pipeline: IPipeline): {
  layout: IDagLayout | null;
  error: string | null;
} {
  const key = shapeKey(pipeline);
  const [state, setState] = React.useState<{
    key: string;
    layout: IDagLayout | null;
    error: string | null;
  }>({ key: '', layout: null, error: null });
  React.useEffect(() => {
    let live = true;
    layoutPipeline(pipeline).then(
      layout => live && setState({ key, layout, error: null }),
      reason => live && setState({ key, layout: null, error: String(reason) })
    );
    return () => {
      live = false;
    };
  }, [key]);
  return state.key === key ? state : { layout: null, error: null };
}

function StepNodeView(props: NodeProps<StepNode>): JSX.Element {
  const { node, run, fan, band } = props.data;
  const colours = nodeFill(node.phase, run?.status);
  const style = run ? statusStyle(run.status) : null;
  const progress = fan ? fanOutText(fan) : '';
  // Second line: the step's state in the run shown (a fan-out step: how many elements
  // are done), else `for each NAME` for a fan-out step, else its phase when the name
  // does not already say it.
  const detail = run
    ? progress ||
      [style?.label, formatDuration(run.duration)].filter(Boolean).join(' · ')
    : node.foreach
      ? `for each ${node.foreach}`
      : node.phase && node.phase !== node.name
        ? node.phase
        : '';
  const title = `step ${node.name}${node.notebook ? ` of ${node.notebook}` : ''}${
    node.phase ? `, phase ${node.phase}` : ''
  }${node.foreach ? `, for each element of ${node.foreach}` : ''}${
    run ? `: ${run.status}${progress ? ` (${progress})` : ''}` : ''
  } (click: go to its first cell)`;
  return (
    <div
      className={`liminal-dag-node${
        style?.active && run?.status === 'running' ? ' liminal-dag-node-running' : ''
      }${node.foreach ? ' liminal-dag-node-fanout' : ''}${band ? ' liminal-dag-node-banded' : ''}`}
      data-step={node.name}
      data-status={run?.status ?? ''}
      data-notebook={node.notebook || undefined}
      data-foreach={node.foreach ?? undefined}
      data-done={fan ? fan.done : undefined}
      data-failed={fan ? fan.failed : undefined}
      data-total={fan ? fan.total : undefined}
      title={title}
      style={{
        width: node.width,
        height: node.height,
        background: colours.fill,
        borderColor: colours.stroke,
        borderWidth: run ? 3 : 1,
        color: colours.text
      }}
    >
      <Handle type="target" position={Position.Top} isConnectable={false} />
      {band && <span className="liminal-dag-node-band" style={{ background: band }} />}
      <div className="liminal-dag-node-name">{node.name}</div>
      {detail && <div className="liminal-dag-node-detail">{detail}</div>}
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </div>
  );
}

function StepEdgeView(props: EdgeProps<StepEdge>): JSX.Element | null {
  const edge = props.data?.edge;
  if (!edge) {
    return null;
  }
  return (
    <g
      className={`liminal-dag-edge liminal-dag-edge-${edge.kind}${
        edge.back ? ' liminal-dag-edge-back' : ''
      }`}
      data-source={edge.source}
      data-target={edge.target}
    >
      <title>{edge.title}</title>
      <path d={routePath(edge.points)} markerEnd={props.markerEnd} />
      {edge.label && (
        <text
          x={edge.labelX + edge.labelWidth / 2}
          y={edge.labelY + LABEL_FONT_PX}
          textAnchor="middle"
          className="liminal-dag-edge-label"
        >
          {edge.lines.length === 1
            ? edge.lines[0]
            : edge.lines.map((line, i) => (
                <tspan key={i} x={edge.labelX + edge.labelWidth / 2} dy={i ? LABEL_LINE_PX : 0}>
                  {line}
                </tspan>
              ))}
        </text>
      )}
    </g>
  );
}

const nodeTypes = { step: StepNodeView };
const edgeTypes = { step: StepEdgeView };

function flowElements(
  layout: IDagLayout,
  steps: Map<string, IStepRun>,
  fanouts: Map<string, IFanOut> | undefined,
  bands: Map<string, string>
): { nodes: StepNode[]; edges: StepEdge[] } {
  return {
    nodes: layout.nodes.map(node => ({
      id: node.name,
      type: 'step',
      position: { x: node.x, y: node.y },
      width: node.width,
      height: node.height,
      data: {
        node,
        run: steps.get(node.name),
        fan: fanouts?.get(node.name),
        band: bands.get(node.notebook)
      },
      draggable: false,
      connectable: false,
      selectable: false
    })),
    edges: layout.edges.map(edge => ({
      id: edge.id,
      source: edge.source,
      target: edge.target,
      type: 'step',
      data: { edge },
      markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 },
      selectable: false,
      focusable: false
    }))
  };
}

/** The width of an element, kept up to date as the panel is resized. */
function useWidth(): [number | null, (element: HTMLDivElement | null) => void] {
  const [width, setWidth] = React.useState<number | null>(null);
  const observer = React.useRef<ResizeObserver | null>(null);
  const measure = React.useCallback((element: HTMLDivElement | null) => {
    observer.current?.disconnect();
    observer.current = null;
    if (element) {
      setWidth(element.clientWidth);
      observer.current = new ResizeObserver(() => setWidth(element.clientWidth));
      observer.current.observe(element);
    }
  }, []);
  return [width, measure];
}

/**
 * The main-area drawing: fitted to the view when it opens (the whole drawing, edge
 * labels included, not just the nodes) as far as text stays readable (MIN_READABLE_ZOOM;
 * a bigger graph is panned instead), then zoomed and panned freely within that; the fit
 * button fits it again.
 */
function MainFlow(props: {
  layout: IDagLayout;
  elements: { nodes: StepNode[]; edges: StepEdge[] };
  onNodeClick: (event: React.MouseEvent, node: StepNode) => void;
}): JSX.Element {
  const { layout, elements } = props;
  const instance = React.useRef<ReactFlowInstance<StepNode, StepEdge> | null>(null);
  const canvas = React.useRef<HTMLDivElement | null>(null);
  const fit = React.useCallback(() => {
    const view = canvas.current;
    if (!instance.current || !view || !view.clientWidth || !view.clientHeight) {
      return;
    }
    void instance.current.setViewport(
      fitViewport(layout.width, layout.height, view.clientWidth, view.clientHeight)
    );
  }, [layout]);
  React.useEffect(fit, [fit]);
  return (
    <div className="liminal-dag-main-canvas" ref={canvas}>
      <ReactFlow
        nodes={elements.nodes}
        edges={elements.edges}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        onNodeClick={props.onNodeClick}
        onInit={flow => {
          instance.current = flow;
          fit();
        }}
        minZoom={MIN_READABLE_ZOOM}
        maxZoom={2.5}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable={false}
        proOptions={{ hideAttribution: true }}
        aria-label="pipeline graph"
      >
        <Controls showInteractive={false} showFitView={false}>
          <ControlButton className="liminal-dag-fit" title="fit to view" aria-label="fit to view" onClick={fit}>
            <svg viewBox="0 0 32 30">
              <path d="M3.692 4.63c0-.53.4-.938.939-.938h5.215V0H4.708C2.13 0 0 2.054 0 4.63v5.216h3.692V4.631zM27.354 0h-5.2v3.692h5.17c.53 0 .984.4.984.939v5.215H32V4.631A4.624 4.624 0 0027.354 0zm.954 24.83c0 .532-.4.94-.939.94h-5.215v3.768h5.215c2.577 0 4.631-2.13 4.631-4.707v-5.139h-3.692v5.139zm-23.677.94c-.531 0-.939-.4-.939-.94v-5.138H0v5.139c0 2.577 2.13 4.707 4.708 4.707h5.138V25.77H4.631z" />
            </svg>
          </ControlButton>
        </Controls>
      </ReactFlow>
    </div>
  );
}

export function DagView(props: IDagProps): JSX.Element {
  const { pipeline, steps, fanouts, mode = 'panel' } = props;
  const { layout, error } = useDagLayout(pipeline);
  const [panelWidth, measure] = useWidth();
  const notebooksKey = JSON.stringify((pipeline.notebooks ?? []).map(n => n.path));
  const bands = React.useMemo(() => notebookColours(pipeline), [notebooksKey]);
  const elements = React.useMemo(
    () => (layout ? flowElements(layout, steps, fanouts, bands) : null),
    [layout, steps, fanouts, bands]
  );
  if (!pipeline.steps.length) {
    return <div className="liminal-empty">No steps.</div>;
  }
  if (error) {
    return <div className="liminal-hint liminal-dag-error">The graph could not be laid out: {error}</div>;
  }
  if (!layout || !elements) {
    return <div className="liminal-hint liminal-dag-pending">Laying out the graph…</div>;
  }
  const onNodeClick = (_: React.MouseEvent, node: StepNode) => props.onStepClick(node.id);
  const wide = mode === 'panel' && panelWidth !== null && layout.width > panelWidth + 1;
  const phases = phasesPresent(layout.nodes.map(n => n.phase));
  const flow =
    mode === 'panel' ? (
      <div className="liminal-dag-scroll" ref={measure}>
        <div
          className="liminal-dag-canvas"
          style={{ width: layout.width, height: layout.height }}
        >
          <ReactFlow
            nodes={elements.nodes}
            edges={elements.edges}
            nodeTypes={nodeTypes}
            edgeTypes={edgeTypes}
            onNodeClick={onNodeClick}
            defaultViewport={{ x: 0, y: 0, zoom: 1 }}
            minZoom={1}
            maxZoom={1}
            panOnDrag={false}
            panOnScroll={false}
            zoomOnScroll={false}
            zoomOnPinch={false}
            zoomOnDoubleClick={false}
            preventScrolling={false}
            nodesDraggable={false}
            nodesConnectable={false}
            elementsSelectable={false}
            proOptions={{ hideAttribution: true }}
            aria-label="pipeline graph"
          />
        </div>
      </div>
    ) : (
      <MainFlow layout={layout} elements={elements} onNodeClick={onNodeClick} />
    );
  return (
    <div className={`liminal-dag liminal-dag-${mode}`}>
      {flow}
      {wide && (
        <div className="liminal-hint liminal-dag-wide">
          Wider than the panel: scroll sideways, or open the pipeline in a tab.
        </div>
      )}
      {bands.size > 0 && (
        <div
          className="liminal-dag-legend liminal-dag-notebooks"
          title="The notebook of each step: the band on its left"
        >
          <span className="liminal-dag-legend-title">notebooks</span>
          {Array.from(bands).map(([notebook, colour]) => (
            <span
              key={notebook}
              className="liminal-dag-legend-item liminal-dag-notebook"
              data-notebook={notebook}
            >
              <span className="liminal-band-swatch" style={{ background: colour }} />
              {notebookLabel(notebook)}
            </span>
          ))}
        </div>
      )}
      {phases.length > 0 && (
        <div className="liminal-dag-legend liminal-dag-phases">
          {bands.size > 0 && <span className="liminal-dag-legend-title">phases</span>}
          {phases.map(phase => (
            <span key={phase} className="liminal-dag-legend-item">
              <span className="liminal-swatch" style={{ background: phaseColour(phase) }} />
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
