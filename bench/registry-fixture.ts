// The registry the YAML and apply benchmarks share: 10,000 realistic entries (~4.5 MB) with file
// meta, per-entry meta (depends_on, groups) and nested data.

/** Registry YAML text of `count` entries spread over `kinds` kinds (`kind0.service`, ...). */
export function registryText(count: number, kinds = 1): string {
  const lines = ['namespace: app.bench', 'meta:', '  owner: platform', 'entries:'];
  for (let i = 0; i < count; i += 1) {
    const name = `service-${String(i).padStart(5, '0')}`;
    lines.push(
      `  - name: ${name}`,
      `    kind: ${kinds === 1 ? 'http.service' : `kind${i % kinds}.service`}`,
      '    meta:',
      `      description: Service ${i} of the benchmark registry`,
      `      depends_on: [db-${i % 10}, cache, "other.ns:shared"]`,
      `      groups: [web, group-${i % 7}]`,
      '    data:',
      '      host: 0.0.0.0',
      `      port: ${8000 + (i % 1000)}`,
      '      routes:',
      `        - path: /api/v1/items/${i}`,
      '          method: GET',
      `          handler: app.api:list-${i}`,
      `        - path: /api/v1/items/${i}/{id}`,
      '          method: POST',
      '          timeout_ms: 2500',
      `      limits: { rps: ${100 + i}, burst: 20 }`,
    );
  }
  return `${lines.join('\n')}\n`;
}
