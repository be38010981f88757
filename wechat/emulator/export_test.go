package emulator

// SetPermanentQRCount lets tests reach the 100 000 permanent-code cap
// without creating 100 000 codes.
func (e *Emulator) SetPermanentQRCount(appID string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.accounts[appID].permanentQR = n
}
