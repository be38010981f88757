package models

import (
	"sync"
	"testing"

	"gorm.io/gorm/schema"

	"github.com/wxclub/wxclub/ritual"
)

// TestColumnsHoldWhatRitualAccepts: every input limit ritual declares is
// the size of the column that keeps the value, so what passes validation
// is stored whole on every database, and a column cannot shrink (or a
// limit grow) without this failing.
func TestColumnsHoldWhatRitualAccepts(t *testing.T) {
	cases := []struct {
		model  any
		column string
		limit  int
	}{
		{&memberRow{}, "openid", ritual.MaxOpenIDLen},
		{&memberRow{}, "subscribe_scene", ritual.MaxSceneLen},
		{&memberRow{}, "card_code", ritual.MaxCardCodeLen},
		{&orderRow{}, "order_no", ritual.MaxOrderNoLen},
		{&orderRow{}, "channel", ritual.MaxChannelLen},
		{&refundRow{}, "refund_no", ritual.MaxOrderNoLen},
		{&groupRow{}, "group_id", ritual.MaxGroupIDLen},
		{&groupRow{}, "name", ritual.MaxGroupNameLen},
		{&groupSenderRow{}, "group_id", ritual.MaxGroupIDLen},
		{&groupSenderRow{}, "sender_id", ritual.MaxSenderIDLen},
		{&groupSenderRow{}, "nickname", ritual.MaxNicknameLen},
		{&groupLinkRow{}, "sender_id", ritual.MaxSenderIDLen},
		{&activityRow{}, "group_id", ritual.MaxGroupIDLen},
		{&activityRow{}, "created_by", ritual.MaxSenderIDLen},
		{&activityEntryRow{}, "sender_id", ritual.MaxSenderIDLen},
		{&linkCodeRow{}, "used_by", ritual.MaxSenderIDLen},
		{&signInRow{}, "signed_where", ritual.MaxGroupIDLen},
		{&merchantRow{}, "name", ritual.MaxMerchantNameLen},
		{&merchantRow{}, "app_id", ritual.MaxAppIDLen},
	}
	cache := &sync.Map{}
	for _, c := range cases {
		s, err := schema.Parse(c.model, cache, schema.NamingStrategy{})
		if err != nil {
			t.Fatal(err)
		}
		f := s.LookUpField(c.column)
		if f == nil {
			t.Errorf("%s has no column %s", s.Table, c.column)
			continue
		}
		if f.Size != c.limit {
			t.Errorf("%s.%s holds %d characters; ritual accepts %d", s.Table, c.column, f.Size, c.limit)
		}
	}
}
