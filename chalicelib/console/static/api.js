// The API client: every data call goes to the tenant-scoped native API with the key the user
// typed, kept in sessionStorage (this tab only). A 401 forgets it and asks again.
const STORE = "beatless.key";
// The console is served at <stage>/console/: the API is one level up.
const ROOT = new URL("../", document.baseURI.split("#")[0]);

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "";
    this.details = error.details || {};
  }
}

export const key = {
  get: () => sessionStorage.getItem(STORE),
  set: (value) => sessionStorage.setItem(STORE, value.trim()),
  clear: () => sessionStorage.removeItem(STORE),
};

let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

export async function api(path, { method = "GET", body, query } = {}) {
  const url = new URL(path.replace(/^\//, ""), ROOT);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  const stored = key.get();
  if (stored) headers.Authorization = `Bearer ${stored}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: { message: text.slice(0, 200) } };
  }
  if (response.status === 401) {
    key.clear();
    onUnauthorized(new ApiError(401, data));
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const apiRoot = ROOT;
