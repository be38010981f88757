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

type cdata struct {
	Text string `xml:",cdata"`
}

// textReply is WeChat's passive text reply.
type textReply struct {
	XMLName      xml.Name `xml:"xml"`
	ToUserName   cdata    `xml:"ToUserName"`
	FromUserName cdata    `xml:"FromUserName"`
	CreateTime   int64    `xml:"CreateTime"`
	MsgType      cdata    `xml:"MsgType"`
	Content      cdata    `xml:"Content"`
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
	plain, err := xml.Marshal(textReply{
		ToUserName: cdata{msg.OpenID}, FromUserName: cdata{msg.AccountID},
		CreateTime: msg.SentAt.Unix(), MsgType: cdata{"text"}, Content: cdata{reply.Text},
	})
	if err != nil {
		return rendered{}, err
	}
	if !safeMode(q) {
		return rendered{"application/xml; charset=utf-8", plain}, nil
	}
	sealed, err := seal(acct, q, msg.DedupeKey(), plain)
	return rendered{"application/xml; charset=utf-8", sealed}, err
}
