"use strict";
// The service worker: shows each push as a notification, and tells the app
// which octets arrived (the browser decrypted them: the app compares them
// with what it sent). A payload that is Declarative Web Push JSON,
// {"web_push": 8030, "notification": {"title", "body", "navigate", ...}},
// is shown as that notification; any other payload is shown as text.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", event => event.waitUntil(self.clients.claim()));

function base64url(bytes) {
  let raw = "";
  for (const b of bytes) raw += String.fromCharCode(b);
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function notificationFor(text) {
  try {
    const message = JSON.parse(text);
    const n = message && message.web_push === 8030 && message.notification;
    if (n && typeof n.title === "string") {
      const options = { data: { navigate: n.navigate || "/" } };
      for (const field of ["body", "icon", "badge", "image", "tag", "lang", "dir",
                           "silent", "requireInteraction", "renotify", "timestamp"]) {
        if (n[field] !== undefined) options[field] = n[field];
      }
      return [n.title, options];
    }
  } catch (_) {
    // Not JSON: plain text.
  }
  return ["webpush", { body: text.slice(0, 200), data: { navigate: "/" } }];
}

self.addEventListener("push", event => {
  const bytes = event.data ? new Uint8Array(event.data.arrayBuffer()) : new Uint8Array();
  const text = new TextDecoder().decode(bytes);
  const [title, options] = notificationFor(text);
  event.waitUntil((async () => {
    await fetch("/api/received", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ data: base64url(bytes), title }),
    }).catch(() => {});
    await self.registration.showNotification(title, options);
  })());
});

self.addEventListener("notificationclick", event => {
  event.notification.close();
  const target = (event.notification.data && event.notification.data.navigate) || "/";
  event.waitUntil(self.clients.openWindow(target));
});
