/* The model download: the manifest, then each part, each checked against its SHA-256.
 *
 * The build cuts the GGUF file into parts of at most 16 MiB (tools/model_parts.py) and writes
 * manifest.json: {file, bytes, sha256, version, part_bytes, parts: [{name, bytes, sha256}]}.
 * Verified parts are kept in the Cache API under "llmbook-model-<version>", so a second visit
 * reads them from disk (checking their length; their hash was checked before they were stored) and an
 * interrupted download fetches only the parts still missing.
 * Caches of other versions are deleted. Every failure is an Error whose message says what to do.
 */

export const CACHE_PREFIX = "llmbook-model-";
const MAX_BYTES = 2 ** 31 - 1;  // one ArrayBuffer; the book's model is 94 MiB
const STEP = 2 ** 20;  // bytes between two progress reports
const PART_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;  // a file beside the manifest, never a path or another host

export function mib(bytes) {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256(bytes) {
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

/** Check a manifest's fields before anything is fetched or allocated; returns it. */
export function checkManifest(m) {
  const bad = (what) => { throw new Error(`the model manifest is not valid: ${what}`); };
  if (!m || typeof m !== "object") bad("not a JSON object");
  if (typeof m.file !== "string" || !m.file) bad("no file name");
  if (typeof m.version !== "string" || !/^[0-9a-f]{8,64}$/.test(m.version)) bad(`version ${JSON.stringify(m.version)}`);
  if (!Number.isSafeInteger(m.bytes) || m.bytes < 1 || m.bytes > MAX_BYTES) bad(`size ${m.bytes}`);
  if (!Array.isArray(m.parts) || m.parts.length < 1) bad("no parts");
  let sum = 0;
  m.parts.forEach((p, i) => {
    const where = `part ${i + 1} of ${m.parts.length}`;
    if (!p || typeof p.name !== "string" || !PART_NAME.test(p.name)) bad(`${where} has the name ${JSON.stringify(p && p.name)}`);
    if (!Number.isSafeInteger(p.bytes) || p.bytes < 1) bad(`${where} has the size ${p.bytes}`);
    if (typeof p.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(p.sha256)) bad(`${where} has no valid sha256`);
    sum += p.bytes;
  });
  if (sum !== m.bytes) bad(`its parts add up to ${sum} bytes, not ${m.bytes}`);
  return m;
}

export async function fetchManifest(url) {
  let res;
  try {
    res = await fetch(url, { cache: "no-cache" });  // a new build names a new version
  } catch (err) {
    throw new Error(`could not download the model manifest (${url}): ${err.message}`);
  }
  if (!res.ok) throw new Error(`could not download the model manifest (${url}): HTTP ${res.status}`);
  return checkManifest(await res.json());
}

function isQuota(err) {
  return err && (err.name === "QuotaExceededError" || /quota/i.test(String(err.message)));
}

/** The versioned cache, with every other version's cache deleted; null where the browser has no Cache API. */
async function openCache(version) {
  if (typeof caches === "undefined") return null;  // e.g. a page not served over https or localhost
  const name = CACHE_PREFIX + version;
  try {
    for (const old of await caches.keys()) {
      if (old.startsWith(CACHE_PREFIX) && old !== name) await caches.delete(old);
    }
    return await caches.open(name);
  } catch (err) {  // storage refused (private browsing, blocked site data)
    return null;
  }
}

/** Ask the browser to keep the cache under storage pressure; true when granted. */
async function persist() {
  try {
    return Boolean(navigator.storage && navigator.storage.persist && await navigator.storage.persist());
  } catch (err) {
    return false;
  }
}

/** Read a response body into `into` (exactly `expected` bytes at most), calling `onBytes(n)` per chunk. */
async function readInto(res, into, expected, where, onBytes) {
  const reader = res.body.getReader();
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (got + value.length > expected) {
      await reader.cancel();
      throw new Error(`${where} failed its sha256 check: it is longer than the ${expected.toLocaleString("en")} ` +
        "bytes the manifest names");
    }
    into.set(value, got);
    got += value.length;
    onBytes(value.length);
  }
  return got;
}

/**
 * Download the model the manifest at `manifestUrl` names into one ArrayBuffer.
 * onProgress({done, total, part, parts, cached}) is called as bytes arrive (done/total in bytes).
 * Returns {buffer, manifest, cachedParts, fetchedParts, persisted, cacheUsed}.
 */
export async function downloadModel(manifestUrl, { onProgress = () => {} } = {}) {
  const manifest = await fetchManifest(manifestUrl);
  const n = manifest.parts.length;
  let whole;
  try {
    whole = new Uint8Array(manifest.bytes);
  } catch (err) {
    throw new Error(`the browser refused ${mib(manifest.bytes)} of memory for the model (${err.message}); ` +
      "close other tabs or try a device with more memory");
  }
  const cache = await openCache(manifest.version);
  const persisted = cache ? await persist() : false;
  let done = 0, offset = 0, cachedParts = 0, fetchedParts = 0, cacheUsed = Boolean(cache);
  const report = (part, cached) => onProgress({ done, total: manifest.bytes, part, parts: n, cached });
  report(0, false);
  if (!cache) {
    onProgress({ done, total: manifest.bytes, part: 0, parts: n, cached: false,
      warning: "this browser refused to store the model for this site, so the next visit downloads it again" });
  }
  for (let i = 0; i < n; i++) {
    const part = manifest.parts[i];
    const where = `part ${i + 1} of ${n} (${part.name})`;
    const url = new URL(part.name, manifestUrl).href;
    const slot = whole.subarray(offset, offset + part.bytes);
    let ok = false;
    if (cache) {
      const hit = await cache.match(url);
      if (hit) {
        // verified before it was stored under this version's name: only its length is checked again, which
        // keeps a second visit fast (hashing 94 MiB once more costs about 0.2 s)
        const got = await readInto(hit, slot, part.bytes, where, () => {}).catch(() => -1);
        if (got === part.bytes) {
          ok = true;
          cachedParts++;
          done += part.bytes;
          report(i + 1, true);
        } else {
          await cache.delete(url);  // a damaged copy: fetch it again
        }
      }
    }
    if (!ok) {
      let res;
      try {
        res = await fetch(url, { cache: "no-store" });  // the Cache API keeps it; no second copy in the HTTP cache
      } catch (err) {
        throw new Error(`${where} could not be downloaded: ${err.message}. The parts already verified are kept; ` +
          "press the button again to resume");
      }
      if (!res.ok) throw new Error(`${where} could not be downloaded: HTTP ${res.status}`);
      const start = done;
      let told = done;
      const got = await readInto(res, slot, part.bytes, where, (k) => {
        done += k;
        if (done - told >= STEP) { told = done; report(i, false); }  // a message per MiB, not per network chunk
      });
      const digest = await sha256(slot.subarray(0, got));
      if (got !== part.bytes || digest !== part.sha256) {
        done = start;
        throw new Error(`${where} failed its sha256 check: expected ${part.sha256}, got ${digest} ` +
          `(${got.toLocaleString("en")} of ${part.bytes.toLocaleString("en")} bytes). ` +
          "The download was damaged or the site is out of date; reload the page and try again");
      }
      fetchedParts++;
      if (cache && cacheUsed) {
        try {
          await cache.put(url, new Response(slot.slice(), { headers: { "Content-Type": "application/octet-stream" } }));
        } catch (err) {
          if (!isQuota(err)) throw new Error(`${where} could not be stored in the browser's cache: ${err.message}`);
          cacheUsed = false;  // it still runs, but the next visit downloads again
          onProgress({ done, total: manifest.bytes, part: i + 1, parts: n, cached: false,
            warning: `the browser's storage quota is full, so the model is not kept for the next visit ` +
              `(it needs ${mib(manifest.bytes)})` });
        }
      }
      report(i + 1, false);
    }
    offset += part.bytes;
  }
  return { buffer: whole.buffer, manifest, cachedParts, fetchedParts, persisted, cacheUsed };
}
