class Settings:
    timeout = 30
    debug = False


class Other:
    pass
