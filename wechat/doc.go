// Package wechat is wxclub's outbound side of WeChat — template and
// customer-service messages, QR codes, users, tags, the member card — built
// on silenceper/wechat/v2, plus (in wechat/emulator) a faithful fake of the
// WeChat platform for tests, demos and load runs.
//
// silenceper keeps process-global state (its HTTP client, a URI modifier
// and logrus). ConfigureLibrary sets all of it, once, from package main;
// nothing else in wxclub touches it.
package wechat
