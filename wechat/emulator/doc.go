// Package emulator is a faithful fake of the WeChat official-account
// platform, for tests, demos (`wxclub sim`) and load runs.
//
// It plays both sides WeChat plays towards a service:
//
//   - the shopper side: a user follows, scans a QR code, says something or
//     triggers an event, and the emulator delivers the message to the
//     account's webhook exactly as WeChat does (signature, timestamp, nonce,
//     openid, and in safe/compatible mode the AES envelope and
//     msg_signature), then checks and decrypts the passive reply;
//   - the API side: /cgi-bin/token, stable_token, template and
//     customer-service messages, QR codes, user info, tags and member cards,
//     on the paths, JSON fields and query parameters silenceper's client
//     (github.com/silenceper/wechat/v2) sends and parses, so a service only
//     has to replace https://api.weixin.qq.com with http://host/emu.
//
// The emulator enforces the rules WeChat enforces, with WeChat's errcodes:
// followers only, field limits, token supersession and expiry, daily
// quotas, the customer-service reply window. Each rule carries a comment
// naming where it comes from. Faults (an errcode, an HTTP status or a delay
// for the next N calls of a path) let tests drive a service's retry logic.
//
// Everything hangs off *Emulator; there is no package-level state. Time
// comes from Options.Clock so tests can move it, and all state is guarded
// by one mutex, never held while a webhook is being called.
package emulator
