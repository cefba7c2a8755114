/** What the server put in the page: a `<script type="application/json">` element's content. */
export function readOptions<T = Record<string, unknown>>(id: string): T {
  const text = document.getElementById(id)?.textContent;
  if (!text) throw new Error(`the page has no #${id}`);
  return JSON.parse(text) as T;
}
