class Settings:
    debug = False


class Other:
    pass
