package emulator

import (
	"slices"
	"sort"
)

// User tag rules (doc/offiaccount/User_Management/User_Tag_Management.html
// and doc/subscription/api/usermanage/tag/api_createtag):
//   - an account creates at most 100 tags: 45056;
//   - a tag name is at most 30 bytes of UTF-8: 45158 "标签名长度超过30个字节"
//     (the docs say 30 characters, but WeChat counts a Chinese character
//     as 3, as users found on the developer forum);
//   - an empty or duplicate name: 45157 "标签名非法，请注意不能和其他标签重名";
//   - the system tags 0, 1, 2 cannot be changed or deleted: 45058;
//   - a tag with more than 100 000 fans cannot be deleted: 45057;
//   - batch (un)tagging takes at most 50 openids: 40032;
//   - a user carries at most 20 tags: 45059;
//   - an unknown tag id: 45159; an openid that does not follow: 40003.
//
// Custom tags are numbered from 100, as WeChat's are.
const (
	firstTagID         = 100
	maxTags            = 100
	maxTagNameBytes    = 30
	maxBatchOpenIDs    = 50
	maxTagsPerUser     = 20
	maxFansToDeleteTag = 100000
	starredTagID       = 2 // 星标组, listed by tags/get on every account
)

type tag struct {
	id   int
	name string
}

type tagJSON struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Count *int   `json:"count,omitempty"`
}

type tagRequest struct {
	Tag tagJSON `json:"tag"`
}

type batchTagRequest struct {
	OpenIDList []string `json:"openid_list"`
	TagID      int      `json:"tagid"`
}

func isSystemTag(id int) bool { return id >= 0 && id <= starredTagID }

// checkTagName applies the name rules; self is the tag being renamed, or 0.
func (a *account) checkTagName(name string, self int) *apiError {
	if name == "" {
		return wxErr(codeInvalidTagName)
	}
	if len(name) > maxTagNameBytes {
		return wxErr(codeTagNameTooLong)
	}
	if name == "星标组" {
		return wxErr(codeInvalidTagName)
	}
	for _, t := range a.tags {
		if t.name == name && t.id != self {
			return wxErr(codeInvalidTagName)
		}
	}
	return nil
}

// tagsCreate serves POST /cgi-bin/tags/create.
func (e *Emulator) tagsCreate(a *account, c *call) (any, *apiError) {
	var req tagRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if len(a.tags) >= maxTags {
		return nil, wxErr(codeTooManyTags)
	}
	if err := a.checkTagName(req.Tag.Name, 0); err != nil {
		return nil, err
	}
	t := &tag{id: a.nextTag, name: req.Tag.Name}
	a.nextTag++
	a.tags[t.id] = t
	return tagRequest{Tag: tagJSON{ID: t.id, Name: t.name}}, nil
}

// tagsGet serves GET /cgi-bin/tags/get.
func (e *Emulator) tagsGet(a *account, c *call) (any, *apiError) {
	counts := a.tagCounts()
	out := []tagJSON{{ID: starredTagID, Name: "星标组", Count: ptr(counts[starredTagID])}}
	for _, t := range a.tags {
		out = append(out, tagJSON{ID: t.id, Name: t.name, Count: ptr(counts[t.id])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return map[string][]tagJSON{"tags": out}, nil
}

// tagCounts counts each tag's followers.
func (a *account) tagCounts() map[int]int {
	counts := map[int]int{}
	for _, u := range a.users {
		if !u.following {
			continue
		}
		for _, id := range u.tags {
			counts[id]++
		}
	}
	return counts
}

// tagsUpdate serves POST /cgi-bin/tags/update.
func (e *Emulator) tagsUpdate(a *account, c *call) (any, *apiError) {
	var req tagRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if isSystemTag(req.Tag.ID) {
		return nil, wxErr(codeSystemTag)
	}
	t, ok := a.tags[req.Tag.ID]
	if !ok {
		return nil, wxErr(codeInvalidTagID)
	}
	if err := a.checkTagName(req.Tag.Name, t.id); err != nil {
		return nil, err
	}
	t.name = req.Tag.Name
	return okBody(), nil
}

// tagsDelete serves POST /cgi-bin/tags/delete; the tag leaves every user.
func (e *Emulator) tagsDelete(a *account, c *call) (any, *apiError) {
	var req tagRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if isSystemTag(req.Tag.ID) {
		return nil, wxErr(codeSystemTag)
	}
	if _, ok := a.tags[req.Tag.ID]; !ok {
		return nil, wxErr(codeInvalidTagID)
	}
	if a.tagCounts()[req.Tag.ID] > maxFansToDeleteTag {
		return nil, wxErr(codeTagTooManyFans)
	}
	delete(a.tags, req.Tag.ID)
	for _, u := range a.users {
		u.tags = slices.DeleteFunc(u.tags, func(id int) bool { return id == req.Tag.ID })
	}
	return okBody(), nil
}

// batchTargets checks a batch (un)tagging request and returns its users.
// Nothing changes unless every openid is fine.
func (a *account) batchTargets(req batchTagRequest) ([]*user, *apiError) {
	if len(req.OpenIDList) == 0 || len(req.OpenIDList) > maxBatchOpenIDs {
		return nil, wxErr(codeInvalidOpenIDList)
	}
	if _, ok := a.tags[req.TagID]; !ok && req.TagID != starredTagID {
		return nil, wxErr(codeInvalidTagID)
	}
	users := make([]*user, 0, len(req.OpenIDList))
	for _, id := range req.OpenIDList {
		u, ok := a.follower(id)
		if !ok {
			return nil, wxErrf(codeInvalidOpenID, "(%s)", id)
		}
		users = append(users, u)
	}
	return users, nil
}

// tagsBatchTag serves POST /cgi-bin/tags/members/batchtagging.
func (e *Emulator) tagsBatchTag(a *account, c *call) (any, *apiError) {
	var req batchTagRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	users, err := a.batchTargets(req)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if !slices.Contains(u.tags, req.TagID) && len(u.tags) >= maxTagsPerUser {
			return nil, wxErrf(codeUserTooManyTags, "(%s)", u.openid)
		}
	}
	for _, u := range users {
		if !slices.Contains(u.tags, req.TagID) {
			u.tags = append(u.tags, req.TagID)
		}
	}
	return okBody(), nil
}

// tagsBatchUntag serves POST /cgi-bin/tags/members/batchuntagging.
func (e *Emulator) tagsBatchUntag(a *account, c *call) (any, *apiError) {
	var req batchTagRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	users, err := a.batchTargets(req)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		u.tags = slices.DeleteFunc(u.tags, func(id int) bool { return id == req.TagID })
	}
	return okBody(), nil
}

// tagsIDList serves POST /cgi-bin/tags/getidlist.
func (e *Emulator) tagsIDList(a *account, c *call) (any, *apiError) {
	var req struct {
		OpenID string `json:"openid"`
	}
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	u, ok := a.follower(req.OpenID)
	if !ok {
		return nil, wxErr(codeInvalidOpenID)
	}
	return map[string][]int{"tagid_list": nonNil(slices.Clone(u.tags))}, nil
}

// userTagGet serves POST /cgi-bin/user/tag/get: the followers with a tag.
func (e *Emulator) userTagGet(a *account, c *call) (any, *apiError) {
	var req struct {
		TagID      int    `json:"tagid"`
		NextOpenID string `json:"next_openid"`
	}
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if _, ok := a.tags[req.TagID]; !ok && req.TagID != starredTagID {
		return nil, wxErr(codeInvalidTagID)
	}
	var tagged []string
	for _, id := range a.followers() {
		if slices.Contains(a.users[id].tags, req.TagID) {
			tagged = append(tagged, id)
		}
	}
	return page(tagged, req.NextOpenID), nil
}

func ptr[T any](v T) *T { return &v }
