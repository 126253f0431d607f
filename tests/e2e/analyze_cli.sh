# analyze_cli: placeholder
exit 0
