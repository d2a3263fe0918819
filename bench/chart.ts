/**
 * bench/report.svg: Vega-Lite specs compiled to Vega and rendered headless (renderer 'none',
 * toSVG) in Node. Only the data layout lives here; bench/report.ts decides what goes in.
 */
import type { TopLevelSpec } from 'vega-lite';

export interface Point { readonly n: number; readonly series: string; readonly value: number; readonly low: number; readonly high: number }
export interface Bar { readonly group: string; readonly label: string; readonly value: number; readonly low: number; readonly high: number }

const lineChart = (title: string, unit: string, points: readonly Point[]) => ({
  title, width: 380, height: 260, data: { values: points },
  layer: [
    { mark: { type: 'line', point: true }, encoding: {
      x: { field: 'n', type: 'quantitative', scale: { type: 'log' }, title: 'sources (N)' },
      y: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: unit },
      color: { field: 'series', type: 'nominal', title: null },
    } },
    { mark: 'rule', encoding: { x: { field: 'n', type: 'quantitative' }, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' }, color: { field: 'series', type: 'nominal' } } },
  ],
});

const barChart = (title: string, unit: string, bars: readonly Bar[]) => ({
  title, width: 260, height: 200, data: { values: bars },
  layer: [
    { mark: 'bar', encoding: {
      x: { field: 'label', type: 'nominal', title: null, sort: null, axis: { labelAngle: -30 } },
      y: { field: 'value', type: 'quantitative', title: unit },
      color: { field: 'label', type: 'nominal', legend: null },
    } },
    { mark: { type: 'rule', color: 'black' }, encoding: { x: { field: 'label', type: 'nominal', sort: null }, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' } } },
  ],
});

export async function renderReport(parts: { apply: Point[]; rss: Point[]; list: Bar[]; packet: Bar[]; subtitle: string }): Promise<string> {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'pktmark benchmarks', subtitle: parts.subtitle },
    config: { font: 'sans-serif', legend: { orient: 'bottom', columns: 3 } },
    vconcat: [
      { hconcat: [lineChart('apply time (median, bars: min–max)', 'ms', parts.apply), lineChart('peak RSS of the applying process', 'MB', parts.rss)], resolve: { scale: { color: 'shared' } } },
      { hconcat: [barChart('list 100,000 rules', 'ms', parts.list), barChart('cost per packet, output hook, 10,000 rules', 'µs per UDP send', parts.packet)] },
    ],
  } as unknown as TopLevelSpec;
  const vl = await import('vega-lite');
  // vega is ESM with top-level await: it can only be imported, never required
  const vega = await import('vega');
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
