package main

// The load merchant is what `wxclub load` and `wxclub bench` drive, so a
// load run never writes members, ceremonies or outbox messages into a
// merchant with real shoppers. serve registers it only while WeChat is the
// emulator (wechat.api_base: emulator): nothing it sends can reach WeChat.
// It carries the first configured merchant's settings (levels, ceremonies,
// rewards, sign-in), so load runs the same work, under credentials of its
// own and with no console users. Both serve and load derive it from the
// same configuration, so neither needs to tell the other.

// loadMerchantID names the load merchant: webhooks go to /wechat/load.
const loadMerchantID = "load"

// loadMerchant returns the load merchant of cfg. ok is false when WeChat
// is not the emulator, when no merchant is configured to copy settings
// from, or when a configured merchant already has the id.
func loadMerchant(cfg Config) (mc MerchantConfig, ok bool) {
	if cfg.WeChat.APIBase != APIBaseEmulator || len(cfg.Merchants) == 0 {
		return MerchantConfig{}, false
	}
	if _, taken := findMerchant(cfg.Merchants, loadMerchantID); taken {
		return MerchantConfig{}, false
	}
	mc = MerchantConfig{Merchant: cfg.Merchants[0].Merchant, APIKey: "load-key-emulator-only"}
	mc.ID, mc.Name = loadMerchantID, "Load test (emulator only)"
	mc.OfficialAccount.AppID = "wx10ad10ad10ad10ad"
	mc.OfficialAccount.AppSecret = "load-app-secret-emulator-only"
	mc.OfficialAccount.Token = "wxclubload"
	mc.OfficialAccount.EncodingAESKey = "LoadLoadLoadLoadLoadLoadLoadLoadLoadLoad0Aa"
	if mc.Groups.Secret != "" {
		mc.Groups.Secret = "load-group-secret-emulator-only"
		mc.Groups.CallbackURL = "" // the emulator's bridge side, as for the demo
	}
	return mc, true
}

// withLoadMerchant returns cfg's merchants and, where cfg has one, the
// load merchant after them.
func withLoadMerchant(cfg Config) []MerchantConfig {
	lm, ok := loadMerchant(cfg)
	if !ok {
		return cfg.Merchants
	}
	return append(cfg.Merchants[:len(cfg.Merchants):len(cfg.Merchants)], lm)
}

func findMerchant(merchants []MerchantConfig, id string) (MerchantConfig, bool) {
	for _, mc := range merchants {
		if mc.ID == id {
			return mc, true
		}
	}
	return MerchantConfig{}, false
}
