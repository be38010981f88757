package handlers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// The passive reply echoes the request's nonce. One holding "]]>" (the end
// of a CDATA section) and XML's own characters still comes back intact in
// safe mode, where WeChat checks the reply's msg_signature over it.
func TestReplyEchoesAnyNonce(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModeSafe, 5*time.Minute)
		d := e.deliver(e.textXML(ritualtest.RandomID("o"), "帮助", clock.Now().UnixNano()), true)
		d.nonce = "n]]>&<x>]]]>"
		r := e.send(d)
		reply := e.open(r, true) // verifies msg_signature over the nonce it parsed back
		if !strings.Contains(reply.Content, "你可以") {
			t.Fatalf("reply %+v, want the help text", reply)
		}
		if !strings.Contains(r.body, "<Nonce><![CDATA[n]]]]><![CDATA[>&<x>]]]]]><![CDATA[>]]></Nonce>") {
			t.Fatalf("reply %s does not carry the nonce split around its ]]>", r.body)
		}
	})
}
