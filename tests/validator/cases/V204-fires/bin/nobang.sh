if [ $# == 0 ]; then echo none; fi
vigil ping nobang
