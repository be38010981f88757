package console

import (
	"fmt"
	"strings"

	"github.com/wxclub/wxclub/ritual"
)

// The coupons page edits the rewards members redeem points for or are
// given: one fieldset a coupon, and one to add a new coupon.

func couponsEditor(rd *renderer, settings Settings) editor[[]ritual.Reward] {
	return editor[[]ritual.Reward]{
		renderer: rd, settings: settings,
		section: "rewards", title: "优惠券", nav: "coupons", action: "/console/coupons",
		form: func(_ *request, rewards []ritual.Reward) *form { return couponsForm(rewards) },
		bind: bindCoupons,
	}
}

// newReward is the prefix of the new coupon's inputs.
const newReward = "rewards[new]"

func couponsForm(rewards []ritual.Reward) *form {
	f := &form{Submit: "保存优惠券"}
	for i, r := range rewards {
		p := fmt.Sprintf("rewards[%d]", i)
		key := text(p+".key", "key（发出的券按它记录，不能改）", r.Key)
		key.ReadOnly = true
		fields := append([]*field{key}, rewardFields(p, r)...)
		fields = append(fields, checkbox(p+".delete", "删除这张券（已发出的券仍然有效）", false))
		f.set(r.Name+" · "+r.Key, fields...)
	}
	f.set("新增一张券（不填 key 则不新增）",
		append([]*field{text(newReward+".key", "key（小写字母、数字、- 或 _）", "")}, rewardFields(newReward, ritual.Reward{ValidDays: 30, Stock: 100})...)...)
	return f
}

func rewardFields(p string, r ritual.Reward) []*field {
	return []*field{
		text(p+".name", "名称（会员回复「兑换 名称」，最多 16 字）", r.Name),
		text(p+".product", "可以买什么（写清楚商品）", r.Product),
		number(p+".value_fen", "面值（分）", r.ValueFen).hint(yuan(r.ValueFen)),
		number(p+".points_price", "兑换所需积分（0 = 只赠送，不能兑换）", r.PointsPrice),
		number(p+".stock", "库存", r.Stock),
		number(p+".per_member_limit", "每人限兑（0 = 不限）", r.PerMemberLimit),
		number(p+".valid_days", "领取后有效（天）", r.ValidDays),
	}
}

func bindCoupons(b binder, rewards *[]ritual.Reward) func(string) string {
	var kept []ritual.Reward
	var inputs []string // the form's prefix of each kept reward
	for i, r := range *rewards {
		p := fmt.Sprintf("rewards[%d]", i)
		if b.flag(p + ".delete") {
			continue
		}
		bindReward(b, p, &r)
		kept = append(kept, r)
		inputs = append(inputs, p)
	}
	if key := strings.TrimSpace(b.posted.Get(newReward + ".key")); key != "" {
		r := ritual.Reward{Key: key}
		bindReward(b, newReward, &r)
		kept = append(kept, r)
		inputs = append(inputs, newReward)
	}
	if kept == nil {
		kept = []ritual.Reward{}
	}
	*rewards = kept
	return func(key string) string {
		var i int
		var rest string
		if n, _ := fmt.Sscanf(key, "rewards[%d]", &i); n == 1 && i >= 0 && i < len(inputs) {
			rest = key[strings.Index(key, "]")+1:]
			return inputs[i] + rest
		}
		return key
	}
}

func bindReward(b binder, p string, r *ritual.Reward) {
	b.str(p+".name", &r.Name)
	b.str(p+".product", &r.Product)
	b.int64(p+".value_fen", &r.ValueFen)
	b.int64(p+".points_price", &r.PointsPrice)
	b.int64(p+".stock", &r.Stock)
	b.int(p+".per_member_limit", &r.PerMemberLimit)
	b.int(p+".valid_days", &r.ValidDays)
}

// couponOptions offers the merchant's coupons as a choice, or none, for
// the rituals' and campaigns' rewards.
func couponOptions(rewards []ritual.Reward) []option {
	out := []option{{Value: "", Label: "— 不送券 —"}}
	for _, r := range rewards {
		out = append(out, option{Value: r.Key, Label: r.Name + " " + r.Key})
	}
	return out
}
