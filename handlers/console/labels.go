package console

import (
	"strings"

	"github.com/wxclub/wxclub/ritual"
)

// The merchant's words for ritual's values, in Chinese with the code the
// API and the logs use beside it. Each is a function rather than a map, so
// no page can change another's words; "" means the console has no word for
// the value, and the templates show the code itself.

func purposeName(purpose string) string {
	switch purpose {
	case ritual.PurposePointsChanged:
		return "积分变动 points_changed"
	case ritual.PurposeLevelChanged:
		return "等级变动 level_changed"
	case ritual.PurposeCouponIssued:
		return "发券 coupon_issued"
	case ritual.PurposeGiftGranted:
		return "新人礼 gift_granted"
	case ritual.PurposeCeremony:
		return "升级仪式 ceremony"
	case ritual.PurposeGroupPost:
		return "群消息 group_post"
	case ritual.PurposeCustomText:
		return "客服消息 custom_text"
	case ritual.PurposeCardSync:
		return "会员卡同步 card_sync"
	}
	return ""
}

func statusName(s ritual.OutboxStatus) string {
	switch s {
	case ritual.OutboxPending:
		return "待发送 pending"
	case ritual.OutboxSent:
		return "已发送 sent"
	case ritual.OutboxFailed:
		return "失败 failed"
	case ritual.OutboxWaitingFollow:
		return "等待关注 waiting_follow"
	case ritual.OutboxMerged:
		return "已合并 merged"
	}
	return ""
}

func stateName(s ritual.MemberState) string {
	switch s {
	case ritual.StateRecognized:
		return "已识别（未关注） recognized"
	case ritual.StateFollowing:
		return "已关注 following"
	case ritual.StateUnfollowed:
		return "已取关 unfollowed"
	}
	return ""
}

func ceremonyName(status string) string {
	switch status {
	case ritual.CeremonyOpen:
		return "进行中 open"
	case ritual.CeremonyCompleted:
		return "已完成 completed"
	case ritual.CeremonyClosed:
		return "已收起 closed"
	}
	return ""
}

// rightKinds are the rights a level may give, as a form's choices; each
// call returns a new list, for the form to mark its choice in.
func rightKinds() []option {
	return []option{
		{Value: ritual.RightDiscount, Label: "折扣 discount"},
		{Value: ritual.RightFreeShipping, Label: "包邮 free_shipping"},
		{Value: ritual.RightPrepayRatio, Label: "定制预付比例 prepay_ratio"},
		{Value: ritual.RightMemberOnly, Label: "会员专享商品 member_only"},
		{Value: ritual.RightFreeSample, Label: "免费试用装 free_sample"},
	}
}

func rightName(kind string) string {
	if o := findOption(rightKinds(), kind); o != nil {
		return o.Label
	}
	return ""
}

// stepOptions are a ceremony's steps, as a form's choices; each call
// returns a new list.
func stepOptions() []option {
	return []option{
		{Value: ritual.StepPledge, Label: "复述口号 pledge"},
		{Value: ritual.StepBirthday, Label: "留下生日 birthday"},
		{Value: ritual.StepGroupSignIn, Label: "在群里签到 group_signin"},
		{Value: ritual.StepConfirm, Label: "回复确认 confirm"},
	}
}

func stepsNames(steps []string) string {
	options := stepOptions()
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s
		if o := findOption(options, s); o != nil {
			names[i] = o.Label
		}
	}
	if len(names) == 0 {
		return "—"
	}
	return strings.Join(names, "、")
}

func roleName(role string) string {
	switch role {
	case ritual.RoleOwner:
		return "店主 owner"
	case ritual.RoleOperator:
		return "运营 operator"
	}
	return role
}

func resultName(result string) string {
	switch result {
	case ritual.JobOK:
		return "成功 ok"
	case ritual.JobFailed:
		return "失败 failed"
	case ritual.JobRunning:
		return "运行中 running"
	}
	return result
}
