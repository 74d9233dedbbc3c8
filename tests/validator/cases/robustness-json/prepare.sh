printf '# vigil: odd-gone\n0 5 * * * ~/bin/gone\377\001x.sh\n' > crontab.txt
