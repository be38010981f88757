package ritual

import "time"

// Clock tells the time. Every use of "now" in the domain goes through one, so
// tests can stand on member day, a birthday or the day points expire.
type Clock func() time.Time

// SystemClock is the wall clock in UTC.
func SystemClock() time.Time { return time.Now().UTC() }
