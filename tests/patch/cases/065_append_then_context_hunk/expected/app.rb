require 'json'

def main
  1
end

exit(main) if $PROGRAM_NAME == __FILE__
