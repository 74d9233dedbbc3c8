set -e
mkdir -p bin
printf '\177ELF\002\001\001\000\000\000\000\000' > bin/binary
head -c 4096 /dev/urandom | tr -d 'v' >> bin/binary
chmod +x bin/binary
{ printf '#!/bin/sh\nvigil ping huge\n'; head -c 17000000 /dev/zero | tr '\0' '#'; } > bin/huge.sh
chmod +x bin/huge.sh
ln -s loop2.sh bin/loop.sh
ln -s loop.sh bin/loop2.sh
printf '#!/bin/sh\r\nvigil ping crlf\r\n' > bin/crlf.sh
chmod +x bin/crlf.sh
printf '#!/bin/sh\nvigil ping odd-name\n' > "bin/odd$(printf '\377\376').sh"
chmod +x bin/odd*.sh
printf '# vigil: odd-name\n0 5 * * * ~/bin/odd\377\376.sh --flag\n# vigil: odd-gone\n0 5 * * * ~/bin/gone\377.sh\n' >> crontab.txt
mkfifo bin/fifo.sh
ln -s nowhere.sh bin/dangling.sh
