package ritual

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// The group bridge protocol (DESIGN.md, "Group bridge"): both directions
// are signed with the merchant's groups.secret.
const (
	GroupTimestampHeader = "X-Wxclub-Timestamp"
	GroupSignatureHeader = "X-Wxclub-Signature"
)

// GroupSignature returns the X-Wxclub-Signature of a bridge request or
// callback: "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func GroupSignature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifyGroupSignature reports, in constant time, whether signature signs
// timestamp and body with secret.
func VerifyGroupSignature(secret, timestamp string, body []byte, signature string) bool {
	if secret == "" || timestamp == "" || signature == "" {
		return false
	}
	return hmac.Equal([]byte(GroupSignature(secret, timestamp, body)), []byte(signature))
}

// Limits of the bridge protocol's fields, in characters, as stored
// (models: chat_groups.group_id, group_senders.sender_id, .nickname,
// chat_groups.name). msg_id is kept only hashed. Ids over their limit are
// refused; names are display text and are shortened to fit instead, so a
// long nickname does not cost its owner the message.
const (
	MaxGroupIDLen   = 128
	MaxSenderIDLen  = 128
	maxMsgIDLen     = 128
	MaxNicknameLen  = 64
	MaxGroupNameLen = 128
	// linkCodeLife is how long a 绑定 code can be used.
	linkCodeLife = 10 * time.Minute
	linkCodeLen  = 6
	// linkTriesPerHour limits guessing codes, per sender.
	linkTriesPerHour = 5
	// boardSize is how many places 排行 shows.
	boardSize = 10
)

// Validate checks what the bridge sent before anything is stored.
func (g GroupMessage) Validate() error {
	ids := []bounded{{"msg_id", g.MsgID, maxMsgIDLen}, {"group_id", g.GroupID, MaxGroupIDLen}, {"sender.id", g.Sender.ID, MaxSenderIDLen}}
	for _, id := range ids {
		if id.value == "" {
			return &Error{Code: EBADREQUEST, Field: id.field, Message: id.field + " is required"}
		}
	}
	if err := checkLengths(EBADREQUEST, ids...); err != nil {
		return err
	}
	if !utf8.ValidString(g.Text) || !utf8.ValidString(g.Sender.Nickname) || !utf8.ValidString(g.GroupName) {
		return Errorf(EBADREQUEST, "text, nickname and group_name must be UTF-8")
	}
	return nil
}

// DedupeKey identifies a bridge delivery across its retries. The prefix
// keeps it apart from the official account's keys in the same log.
func (g GroupMessage) DedupeKey() string {
	sum := sha256.Sum256([]byte("group\x00" + g.MsgID))
	return hex.EncodeToString(sum[:])
}

// maxStoredReply is the inbound log's reply column, in characters.
const maxStoredReply = 4096

// encodeGroupReplies stores replies as a JSON array ("[]" for none),
// shortening long texts so the array fits the reply column.
func encodeGroupReplies(replies []Reply) (string, error) {
	texts := make([]groupReplyJSON, len(replies))
	for i, r := range replies {
		texts[i] = groupReplyJSON{Text: r.Text}
	}
	for {
		b, err := json.Marshal(texts)
		if err != nil {
			return "", fmt.Errorf("ritual: encode group replies: %w", err)
		}
		if utf8.RuneCount(b) <= maxStoredReply {
			return string(b), nil
		}
		longest := 0
		for i := range texts {
			if len(texts[i].Text) > len(texts[longest].Text) {
				longest = i
			}
		}
		r := []rune(texts[longest].Text)
		if len(r) < 8 {
			return "", fmt.Errorf("ritual: %d group replies do not fit the reply column", len(texts))
		}
		texts[longest].Text = string(r[:len(r)*3/4]) + "…"
	}
}

type groupReplyJSON struct {
	Text string `json:"text"`
}

func decodeGroupReplies(stored string) ([]Reply, error) {
	var texts []groupReplyJSON
	if err := json.Unmarshal([]byte(stored), &texts); err != nil {
		return nil, fmt.Errorf("ritual: decode stored group replies: %w", err)
	}
	out := make([]Reply, len(texts))
	for i, t := range texts {
		out[i] = Reply{Text: t.Text}
	}
	return out, nil
}

// keyPart is id as part of a stored key (a ledger or outbox reference, a
// rate-limit key): an id short enough to read is kept as it is, so keys
// made before stay the same; a longer one, which together with the rest of
// the key could overflow its column, is replaced by a digest of it.
func keyPart(id string) string {
	const readable = 48
	if len(id) <= readable {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "h" + hex.EncodeToString(sum[:16])
}
