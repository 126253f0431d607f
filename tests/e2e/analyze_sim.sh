# analyze_sim: placeholder
exit 0
