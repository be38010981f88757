package handlers

import (
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wxclub/wxclub/ritual"
)

// parseInbound reads a plaintext delivery. WeChat's messages are one flat
// <xml> element; every simple child is kept in Fields, so events with no
// typed field here (member-card events) still reach the domain whole.
func parseInbound(plain []byte) (ritual.InboundMessage, error) {
	fields, err := flatXML(plain)
	if err != nil {
		return ritual.InboundMessage{}, ritual.Errorf(ritual.EBADREQUEST, "malformed XML: %v", err)
	}
	msg := ritual.InboundMessage{
		OpenID: fields["FromUserName"], AccountID: fields["ToUserName"],
		Kind: fields["MsgType"], Event: fields["Event"], EventKey: fields["EventKey"],
		Content: fields["Content"], Fields: fields,
	}
	created, err := strconv.ParseInt(fields["CreateTime"], 10, 64)
	if err != nil {
		return msg, ritual.Errorf(ritual.EBADREQUEST, "CreateTime is not a number")
	}
	msg.SentAt = time.Unix(created, 0).UTC()
	if id := fields["MsgId"]; id != "" {
		if msg.MsgID, err = strconv.ParseInt(id, 10, 64); err != nil {
			return msg, ritual.Errorf(ritual.EBADREQUEST, "MsgId is not a number")
		}
	}
	if msg.Kind != ritual.KindEvent && msg.MsgID == 0 {
		return msg, ritual.Errorf(ritual.EBADREQUEST, "a message needs a MsgId")
	}
	// Refused here too, before the metrics label and the request log see
	// the fields.
	return msg, msg.Validate()
}

// flatXML returns the text of each direct child of the root element.
// Nested elements (ScanCodeInfo, SendPicsInfo) are flattened by their leaf
// names, which is enough for the events wxclub reads.
func flatXML(data []byte) (map[string]string, error) {
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	fields := map[string]string{}
	depth, current := 0, ""
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			current = t.Name.Local
			text.Reset()
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if depth >= 2 && current == t.Name.Local {
				fields[current] = strings.TrimSpace(text.String())
			}
			depth--
			current = ""
		}
	}
	if depth != 0 || len(fields) == 0 {
		return nil, errors.New("not a complete <xml> document")
	}
	return fields, nil
}

// appendCDATA appends <name>s</name> with s in CDATA, a "]]>" inside it
// split across two sections as encoding/xml does. Passive replies are
// written by hand: flat, and encoding/xml's reflection cost more than the
// rest of rendering them.
func appendCDATA(b []byte, name, s string) []byte {
	b = append(append(append(b, '<'), name...), "><![CDATA["...)
	for {
		before, after, found := strings.Cut(s, "]]>")
		b = append(b, before...)
		if !found {
			break
		}
		b = append(b, "]]]]><![CDATA[>"...)
		s = after
	}
	return append(append(append(b, "]]></"...), name...), '>')
}

// appendNumber appends <name>n</name>.
func appendNumber(b []byte, name string, n int64) []byte {
	b = append(append(append(b, '<'), name...), '>')
	b = strconv.AppendInt(b, n, 10)
	return append(append(append(b, "</"...), name...), '>')
}

type rendered struct {
	contentType string
	body        []byte
}

// renderReply turns the domain's reply into the HTTP answer: "success" when
// there is nothing to say (never an empty or encrypted-empty body, which
// WeChat reports to the shopper as a fault), else a passive text reply,
// sealed in safe and compatible mode. CreateTime is the delivery's own, so a
// repeated delivery gets the same bytes back.
func renderReply(acct ritual.OfficialAccount, q url.Values, msg ritual.InboundMessage, reply ritual.Reply) (rendered, error) {
	if reply.Text == "" {
		return rendered{"text/plain; charset=utf-8", []byte("success")}, nil
	}
	plain := make([]byte, 0, 160+len(msg.OpenID)+len(msg.AccountID)+len(reply.Text))
	plain = append(plain, "<xml>"...)
	plain = appendCDATA(plain, "ToUserName", msg.OpenID)
	plain = appendCDATA(plain, "FromUserName", msg.AccountID)
	plain = appendNumber(plain, "CreateTime", msg.SentAt.Unix())
	plain = appendCDATA(plain, "MsgType", "text")
	plain = appendCDATA(plain, "Content", reply.Text)
	plain = append(plain, "</xml>"...)
	if !safeMode(q) {
		return rendered{"application/xml; charset=utf-8", plain}, nil
	}
	sealed, err := seal(acct, q, msg.DedupeKey(), plain)
	return rendered{"application/xml; charset=utf-8", sealed}, err
}
