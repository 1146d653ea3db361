package enrich

import "strconv"

func formatConf(c float64) string { return strconv.FormatFloat(c, 'f', 4, 64) }
