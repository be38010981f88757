package handlers_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/handlers"
	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// The merchant API's OpenAPI document (handlers/openapi.json) is held to the
// router and to what the handlers really answer.

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// openAPIDoc is the document as served.
type openAPIDoc map[string]any

// fetchOpenAPI gets GET /api/v1/openapi.json from base without an API key.
func fetchOpenAPI(t *testing.T, base string) openAPIDoc {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v1/openapi.json without a key: %d %s %.200s, want 200 JSON", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var doc openAPIDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("the document is not JSON: %v", err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	return doc
}

// servedOpenAPI serves the router without a domain (the document needs
// none) and fetches the document from it.
func servedOpenAPI(t *testing.T) (openAPIDoc, http.Handler) {
	t.Helper()
	h := handlers.New(noDomain())
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return fetchOpenAPI(t, srv.URL), h
}

// paths returns the document's path items.
func (d openAPIDoc) paths() map[string]map[string]any {
	out := map[string]map[string]any{}
	for path, item := range d["paths"].(map[string]any) {
		out[path] = item.(map[string]any)
	}
	return out
}

// operation returns the operation of method (lower case) on path, or nil.
func (d openAPIDoc) operation(path, method string) map[string]any {
	op, _ := d.paths()[path][method].(map[string]any)
	return op
}

// resolve follows v's $ref, if it has one, within the document.
func (d openAPIDoc) resolve(v any) (any, error) {
	for range 10 {
		m, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return nil, fmt.Errorf("$ref %q is not within the document", ref)
		}
		v = map[string]any(d)
		for _, part := range strings.Split(ref[2:], "/") {
			part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part) // a JSON pointer's escapes
			obj, ok := v.(map[string]any)
			if !ok || obj[part] == nil {
				return nil, fmt.Errorf("$ref %q does not resolve", ref)
			}
			v = obj[part]
		}
	}
	return nil, fmt.Errorf("$ref chain too long at %v", v)
}

// pointerEscape escapes a key for a JSON pointer.
var pointerEscape = strings.NewReplacer("~", "~0", "/", "~1")

var templateParam = regexp.MustCompile(`\{([^}]+)\}`)

// ginPath turns /members/{openid} into /members/:openid.
func ginPath(p string) string { return templateParam.ReplaceAllString(p, ":$1") }

// TestOpenAPIDocumentsEveryRoute holds the document to the router: every
// /api/v1 route is documented and every documented operation is a route.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc, h := servedOpenAPI(t)
	engine, ok := h.(*gin.Engine)
	if !ok {
		t.Fatalf("handlers.New returned a %T, want a *gin.Engine", h)
	}
	routes := map[string]bool{}
	for _, r := range engine.Routes() {
		if strings.HasPrefix(r.Path, "/api/v1/") {
			routes[r.Method+" "+r.Path] = true
		}
	}
	documented := map[string]bool{}
	for path, item := range doc.paths() {
		for _, method := range openAPIMethods {
			if item[method] != nil {
				documented[strings.ToUpper(method)+" "+ginPath(path)] = true
			}
		}
	}
	var missing, extra []string
	for r := range routes {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for d := range documented {
		if !routes[d] {
			extra = append(extra, d)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("openapi.json is out of step with the router:\n  routes not documented: %v\n  documented, not routes: %v", missing, extra)
	}
	if len(routes) < 20 {
		t.Fatalf("only %d /api/v1 routes found: %v", len(routes), routes)
	}
}

// TestOpenAPIWellFormed checks what a client generator relies on: every
// $ref resolves, every path template parameter is declared, operation ids
// are unique, every operation has a 2xx answer, and every operation but the
// document itself needs the API key.
func TestOpenAPIWellFormed(t *testing.T) {
	doc, _ := servedOpenAPI(t)

	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["$ref"]; ok {
				if _, err := doc.resolve(v); err != nil {
					t.Errorf("%s: %v", at, err)
				}
			}
			for k, child := range v {
				walk(at+"/"+pointerEscape.Replace(k), child)
			}
		case []any:
			for i, child := range v {
				walk(fmt.Sprintf("%s/%d", at, i), child)
			}
		}
	}
	walk("#", map[string]any(doc))

	if sec, _ := json.Marshal(doc["security"]); string(sec) != `[{"bearerAuth":[]}]` {
		t.Errorf("global security = %s, want bearerAuth", sec)
	}
	scheme, _ := doc.resolve(map[string]any{"$ref": "#/components/securitySchemes/bearerAuth"})
	if s, _ := scheme.(map[string]any); s["type"] != "http" || s["scheme"] != "bearer" {
		t.Errorf("bearerAuth = %v, want an http bearer scheme", scheme)
	}

	ids := map[string]string{}
	for path, item := range doc.paths() {
		for _, method := range openAPIMethods {
			op, _ := item[method].(map[string]any)
			if op == nil {
				continue
			}
			where := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			if id == "" {
				t.Errorf("%s has no operationId", where)
			} else if other, dup := ids[id]; dup {
				t.Errorf("operationId %s is used by %s and %s", id, other, where)
			}
			ids[id] = where

			declared := map[string]bool{}
			for _, list := range []any{item["parameters"], op["parameters"]} {
				params, _ := list.([]any)
				for _, p := range params {
					p, err := doc.resolve(p)
					if err != nil {
						continue // reported by the walk
					}
					if p := p.(map[string]any); p["in"] == "path" {
						declared[p["name"].(string)] = true
						if p["required"] != true {
							t.Errorf("%s: path parameter %v is not required", where, p["name"])
						}
					}
				}
			}
			for _, m := range templateParam.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s: {%s} is not declared as a path parameter", where, m[1])
				}
				delete(declared, m[1])
			}
			for name := range declared {
				t.Errorf("%s: path parameter %s is not in the path", where, name)
			}

			responses, _ := op["responses"].(map[string]any)
			success := false
			for code := range responses {
				success = success || strings.HasPrefix(code, "2")
			}
			if !success {
				t.Errorf("%s has no 2xx response", where)
			}

			sec, hasSec := op["security"]
			public := path == "/api/v1/openapi.json"
			switch {
			case public && (!hasSec || len(sec.([]any)) != 0):
				t.Errorf("%s must say security: [] (it needs no key)", where)
			case !public && hasSec:
				t.Errorf("%s overrides security; every merchant-API route needs the key", where)
			case !public && responses["401"] == nil:
				t.Errorf("%s does not document 401", where)
			}
			if (method == "post" || method == "put") && responses["415"] == nil {
				t.Errorf("%s does not document 415 (a body not sent as application/json)", where)
			}
		}
	}
}

// TestOpenAPISettingsSections checks that the section parameter of
// /settings/{section} names exactly ritual.SettingsSections().
func TestOpenAPISettingsSections(t *testing.T) {
	doc, _ := servedOpenAPI(t)
	item := doc.paths()["/api/v1/settings/{section}"]
	if item == nil {
		t.Fatal("/api/v1/settings/{section} is not documented")
	}
	found := false
	get, _ := item["get"].(map[string]any)
	put, _ := item["put"].(map[string]any)
	for _, list := range []any{item["parameters"], get["parameters"], put["parameters"]} {
		params, _ := list.([]any)
		for _, p := range params {
			p, err := doc.resolve(p)
			if err != nil {
				t.Fatal(err)
			}
			if p := p.(map[string]any); p["in"] == "path" && p["name"] == "section" {
				schema, err := doc.resolve(p["schema"])
				if err != nil {
					t.Fatal(err)
				}
				var enum []string
				raw, _ := json.Marshal(schema.(map[string]any)["enum"])
				_ = json.Unmarshal(raw, &enum)
				if !slices.Equal(enum, ritual.SettingsSections()) {
					t.Fatalf("section enum = %v, want ritual.SettingsSections() %v", enum, ritual.SettingsSections())
				}
				found = true
			}
		}
	}
	if !found {
		t.Fatal("/api/v1/settings/{section} declares no section path parameter")
	}
}

// TestOpenAPIMatchesResponses drives a member through the API and checks
// every answer against the schema the document gives for its operation
// and status: each key the server sends is a documented property, each
// required property is sent, and types and enums agree, all the way down.
func TestOpenAPIMatchesResponses(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		doc := fetchOpenAPI(t, e.server.URL)

		// call makes a request and checks its answer against the document.
		call := func(method, path, body string, header map[string]string, want int) (http.Header, any) {
			t.Helper()
			var rd io.Reader
			if body != "" {
				rd = strings.NewReader(body)
			}
			req, _ := http.NewRequest(method, e.server.URL+path, rd)
			req.Header.Set("Authorization", "Bearer "+e.apiKey)
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			for k, v := range header {
				req.Header.Set(k, v)
			}
			r := e.do(req)
			if r.status != want {
				t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.body, want)
			}
			var got any
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatalf("%s %s: the answer is not JSON: %q", method, path, r.body)
			}
			tpl := doc.template(strings.SplitN(path, "?", 2)[0])
			if tpl == "" {
				t.Fatalf("%s %s: no documented path matches", method, path)
			}
			op := doc.operation(tpl, strings.ToLower(method))
			if op == nil {
				t.Fatalf("%s %s: %s %s is not documented", method, path, method, tpl)
			}
			resp, err := doc.resolve(op["responses"].(map[string]any)[fmt.Sprint(r.status)])
			if err != nil || resp == nil {
				t.Fatalf("%s %s: status %d is not documented for %s %s", method, path, r.status, method, tpl)
			}
			content, _ := resp.(map[string]any)["content"].(map[string]any)
			media, _ := content["application/json"].(map[string]any)
			if media == nil {
				t.Fatalf("%s %s: status %d has no application/json schema", method, path, r.status)
			}
			for _, problem := range doc.conform("$", got, media["schema"]) {
				t.Errorf("%s %s (%d): %s", method, path, r.status, problem)
			}
			return r.header, got
		}
		field := func(v any, keys ...string) any {
			for _, k := range keys {
				v = v.(map[string]any)[k]
			}
			return v
		}

		// A follower, and the programme given a ceremony through the API.
		openid := ritualtest.RandomID("o")
		e.send(e.deliver(e.eventXML(openid, "subscribe", "qrscene_shelf"), false))
		hdr, section := call("GET", "/api/v1/settings/membership", "", nil, 200)
		membership := field(section, "value").(map[string]any)
		levels := membership["levels"].([]any)
		levels[1].(map[string]any)["ceremony"] = map[string]any{
			"steps": []string{"confirm"}, "deadline_days": 7, "reward": map[string]any{"points": 50}, "announce": false, "on_deadline": "wait",
		}
		put, _ := json.Marshal(membership)
		etag := hdr.Get("ETag")
		hdr, _ = call("PUT", "/api/v1/settings/membership", string(put), map[string]string{"If-Match": etag}, 200)
		call("PUT", "/api/v1/settings/membership", string(put), map[string]string{"If-Match": etag}, 409) // stale
		call("PUT", "/api/v1/settings/campaigns", `{"member_day":{"schedule":"0 9 8 * *","catch_up":"2h","multiplier":2,"coupon":"cash-10"}}`,
			map[string]string{"If-Match": hdr.Get("ETag")}, 200)
		call("PUT", "/api/v1/settings/membership", `{"period_days":"soon"}`, nil, 422)
		call("PUT", "/api/v1/settings/referral", `{"points":`, nil, 400)
		call("PUT", "/api/v1/settings/profile", "{\"name\":\"Caf\xe9\",\"timezone\":\"Asia/Shanghai\"}", nil, 400)
		call("PUT", "/api/v1/settings/referral", `{"points":5}`, map[string]string{"Content-Type": "text/plain"}, 415)
		call("PUT", "/api/v1/settings/profile", `{"name":"茶舍","timezone":"Asia/Shanghai"}`, map[string]string{"If-Match": "v1"}, 422)
		call("GET", "/api/v1/settings/nope", "", nil, 404)
		call("GET", "/api/v1/settings", "", nil, 200)
		call("GET", "/api/v1/settings/official_account", "", nil, 200)
		call("GET", "/api/v1/settings/templates", "", nil, 200)
		call("GET", "/api/v1/settings/versions?limit=10", "", nil, 200)

		// Orders reach the level with the ceremony.
		orderNo := ritualtest.RandomID("O")
		call("POST", "/api/v1/orders", `{"order_no":"`+orderNo+`","openid":"`+openid+`","amount_fen":30000,"paid_at":"2026-11-24T09:30:00+08:00","channel":"taobao"}`, nil, 201)
		call("POST", "/api/v1/orders", `{"order_no":"`+ritualtest.RandomID("O")+`","openid":"`+openid+`","amount_fen":30000}`, nil, 201)
		call("POST", "/api/v1/orders", `{"order_no":"`+orderNo+`","openid":"`+openid+`","amount_fen":30000,"paid_at":"2026-11-24T09:30:00+08:00","channel":"taobao"}`, nil, 200)
		call("POST", "/api/v1/orders", `{"order_no":"x","amount_fen":"100"}`, nil, 422)
		call("POST", "/api/v1/orders", `{"order_no":"x","phone":"13912345678","amount_fen":100}`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415)
		call("POST", "/api/v1/orders", `{"order_no":"x","phone":"13912345678","amount_fen":100,"coupon":"A"}`, nil, 422)
		_, member := call("GET", "/api/v1/members/"+openid, "", nil, 200)
		if field(member, "ceremony") == nil {
			t.Fatalf("member %v has no pending ceremony to check", member)
		}
		call("GET", "/api/v1/members/"+openid+"/rights", "", nil, 200)
		call("GET", "/api/v1/members/"+openid+"/ledger?limit=1", "", nil, 200)
		call("GET", "/api/v1/members/nobody/ledger", "", nil, 404)
		call("GET", "/api/v1/members/"+openid+"/ledger?limit=x", "", nil, 422)

		_, list := call("GET", "/api/v1/ceremonies?status=open", "", nil, 200)
		open := field(list, "ceremonies").([]any)
		if len(open) != 1 {
			t.Fatalf("open ceremonies = %v, want one", list)
		}
		id := fmt.Sprint(field(open[0], "id"))
		call("POST", "/api/v1/ceremonies/"+id+"/grant", "", nil, 200)
		call("POST", "/api/v1/ceremonies/"+id+"/grant", "", nil, 409)
		call("GET", "/api/v1/ceremonies", "", nil, 200)

		// Points spent on a coupon, the coupon used, part of an order refunded.
		_, redemption := call("POST", "/api/v1/members/"+openid+"/redemptions", `{"reward":"cash-10","redemption_no":"`+ritualtest.RandomID("R")+`"}`, nil, 201)
		call("GET", "/api/v1/members/"+openid+"/coupons", "", nil, 200)
		code := field(redemption, "coupon", "code").(string)
		call("POST", "/api/v1/coupons/"+code+"/use", "", nil, 200)
		call("POST", "/api/v1/coupons/"+code+"/use", "", nil, 409)
		call("POST", "/api/v1/orders/"+orderNo+"/refunds", `{"refund_no":"`+ritualtest.RandomID("F")+`","amount_fen":1000}`, nil, 201)
		call("POST", "/api/v1/orders/"+ritualtest.RandomID("O")+"/refunds", `{"refund_no":"F1","amount_fen":1000}`, nil, 404)

		// A member recognized by phone has a card; without WeChat it has no QR code.
		call("POST", "/api/v1/orders", `{"order_no":"`+ritualtest.RandomID("O")+`","phone":"13912345678","amount_fen":100}`, nil, 201)
		call("GET", "/api/v1/members/13912345678/card", "", nil, 503)
		call("GET", "/api/v1/members/"+openid+"/card?permanent=true", "", nil, 422)

		// Reports, groups, campaigns.
		call("GET", "/api/v1/funnel?from=2026-11-01&to=2026-11-30", "", nil, 200)
		call("GET", "/api/v1/funnel?from=2026-11-30&to=2026-11-01", "", nil, 422)
		call("GET", "/api/v1/funnel", "", nil, 200)
		call("GET", "/api/v1/referrals/leaderboard?month=2026-11&limit=5", "", nil, 200)
		call("GET", "/api/v1/groups", "", nil, 200)
		call("GET", "/api/v1/groups/nope/members", "", nil, 404)
		call("POST", "/api/v1/tags/sync", `{"level":"senior"}`, nil, 503)
		call("POST", "/api/v1/tags/sync", `{"level":"senior","group_id":"g"}`, nil, 422)
		call("GET", "/api/v1/campaigns", "", nil, 200)
		call("GET", "/api/v1/campaigns/report?campaign=member_day:2026-12-08", "", nil, 200)
		call("GET", "/api/v1/campaigns/report", "", nil, 422)
		call("GET", "/api/v1/members/"+openid, "", map[string]string{"Authorization": "Bearer not-a-key"}, 401)
	})
}

// template returns the documented path that path falls under: the one
// with the most literal segments, as OpenAPI matches.
func (d openAPIDoc) template(path string) string {
	best, bestLiterals := "", -1
	segs := strings.Split(path, "/")
next:
	for tpl := range d.paths() {
		parts := strings.Split(tpl, "/")
		if len(parts) != len(segs) {
			continue
		}
		literals := 0
		for i, p := range parts {
			switch {
			case templateParam.MatchString(p):
			case p == segs[i]:
				literals++
			default:
				continue next
			}
		}
		if literals > bestLiterals {
			best, bestLiterals = tpl, literals
		}
	}
	return best
}

// conform lists where v departs from schema: a key the schema does not
// have, a required key missing, a wrong type or a value outside an enum.
// It follows $ref, anyOf/oneOf (one branch must fit), properties,
// additionalProperties and items; a schema without a type admits anything.
func (d openAPIDoc) conform(at string, v any, schema any) []string {
	s, err := d.resolve(schema)
	if err != nil {
		return []string{at + ": " + err.Error()}
	}
	sm, _ := s.(map[string]any)
	for _, key := range []string{"anyOf", "oneOf"} {
		branches, ok := sm[key].([]any)
		if !ok {
			continue
		}
		var all []string
		for _, b := range branches {
			problems := d.conform(at, v, b)
			if len(problems) == 0 {
				return nil
			}
			all = append(all, problems...)
		}
		return []string{fmt.Sprintf("%s: fits no branch of %s: %s", at, key, strings.Join(all, "; "))}
	}
	if types := schemaTypes(sm["type"]); len(types) > 0 && !slices.Contains(types, jsonTypeOf(v)) &&
		!(jsonTypeOf(v) == "integer" && slices.Contains(types, "number")) {
		return []string{fmt.Sprintf("%s: %s, documented as %v", at, jsonTypeOf(v), types)}
	}
	if enum, ok := sm["enum"].([]any); ok && !slices.Contains(enum, v) {
		return []string{fmt.Sprintf("%s: %v is not one of %v", at, v, enum)}
	}
	var problems []string
	switch v := v.(type) {
	case map[string]any:
		props, _ := sm["properties"].(map[string]any)
		extra, _ := sm["additionalProperties"].(map[string]any)
		for _, k := range sortedJSONKeys(v) {
			switch {
			case props[k] != nil:
				problems = append(problems, d.conform(at+"."+k, v[k], props[k])...)
			case extra != nil:
				problems = append(problems, d.conform(at+"."+k, v[k], extra)...)
			case props != nil:
				problems = append(problems, fmt.Sprintf("%s.%s: not a documented property", at, k))
			}
		}
		required, _ := sm["required"].([]any)
		for _, k := range required {
			if _, ok := v[k.(string)]; !ok {
				problems = append(problems, fmt.Sprintf("%s.%s: documented as required, not sent", at, k))
			}
		}
	case []any:
		if items := sm["items"]; items != nil {
			for i, item := range v {
				problems = append(problems, d.conform(fmt.Sprintf("%s[%d]", at, i), item, items)...)
			}
		}
	}
	return problems
}

func schemaTypes(t any) []string {
	switch t := t.(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, len(t))
		for i, x := range t {
			out[i] = fmt.Sprint(x)
		}
		return out
	}
	return nil
}

func jsonTypeOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if v == float64(int64(v)) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	default:
		return "object"
	}
}

func sortedJSONKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
