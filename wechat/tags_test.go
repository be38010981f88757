package wechat_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/wechat/emulator"
)

const pathTagsBatchTag = "/cgi-bin/tags/members/batchtagging"

func TestTagsCreateListAndTag(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	ctx := context.Background()
	a, b := f.follower(m), f.follower(m)

	tag, err := f.client.CreateTag(ctx, m, "茶友一群")
	if err != nil {
		t.Fatal(err)
	}
	if tag.ID < 100 || tag.Name != "茶友一群" {
		t.Fatalf("created %+v, want a custom tag id (100+) and the name", tag)
	}
	if err := f.client.TagUsers(ctx, m, tag.ID, []string{a, b}); err != nil {
		t.Fatal(err)
	}
	tags, err := f.client.Tags(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	var found *ritual.Tag
	for i := range tags {
		if tags[i].ID == tag.ID {
			found = &tags[i]
		}
	}
	if found == nil || found.Name != "茶友一群" || found.Count != 2 {
		t.Fatalf("tags = %+v, want 茶友一群 with 2 followers", tags)
	}

	if _, err := f.client.CreateTag(ctx, m, "茶友一群"); sendError(t, err).ErrCode != 45157 {
		t.Fatalf("a duplicate name: %v, want 45157", err)
	}
	if err := f.client.TagUsers(ctx, m, tag.ID, []string{"oNotAFollower00000000000000001"}); sendError(t, err).ErrCode != 40003 || sendError(t, err).Class != ritual.SendFinal {
		t.Fatalf("a non-follower: %v, want final 40003", err)
	}
	many := make([]string, 51)
	calls := shared.calls.count(pathTagsBatchTag)
	if err := f.client.TagUsers(ctx, m, tag.ID, many); sendError(t, err).Class != ritual.SendFinal {
		t.Fatalf("51 openids: %v, want refused before calling WeChat", err)
	}
	if shared.calls.count(pathTagsBatchTag) != calls {
		t.Fatal("51 openids were sent to WeChat")
	}
	noneOf(t, "log", f.log.String(), append(shared.calls.seenTokens(), a, b, m.OfficialAccount.AppSecret)...)
}

func TestTagLimits(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	ctx := context.Background()
	busy := f.follower(m)
	for i := range 20 {
		tag, err := f.client.CreateTag(ctx, m, fmt.Sprintf("标签%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.client.TagUsers(ctx, m, tag.ID, []string{busy}); err != nil {
			t.Fatal(err)
		}
	}
	tag, _ := f.client.CreateTag(ctx, m, "第二十一个")
	if err := f.client.TagUsers(ctx, m, tag.ID, []string{busy, f.follower(m)}); sendError(t, err).ErrCode != 45059 {
		t.Fatalf("a user with 20 tags: %v, want 45059", err)
	}
	for i := 21; i < 100; i++ {
		if _, err := f.client.CreateTag(ctx, m, fmt.Sprintf("标签%d", i)); err != nil {
			t.Fatalf("tag %d: %v", i+1, err)
		}
	}
	_, err := f.client.CreateTag(ctx, m, "第一百零一个")
	if se := sendError(t, err); se.ErrCode != 45056 || se.Class != ritual.SendFinal {
		t.Fatalf("the 101st tag: %v, want final 45056", err)
	}
}

func TestTagsRefreshARefusedToken(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	ctx := context.Background()
	if _, err := f.client.Tags(ctx, m); err != nil {
		t.Fatal(err)
	}
	shared.emu.AddFault(emulator.Fault{Path: "/cgi-bin/tags/get", ErrCode: 40001})
	tags, err := f.client.Tags(ctx, m)
	if err != nil || len(tags) == 0 {
		t.Fatalf("after a refused token: %v, %v; want the call retried with a fresh token", tags, err)
	}
}
