import sys


def greet(name):
    print('Hello,', name, '!')
    return 0


if __name__ == '__main__':
    greet(sys.argv[1])
