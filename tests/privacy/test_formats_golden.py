"""Whole files in the formats people keep credentials in, through the full built-in scanner.

Each true-positive case is a small but realistic file with its path; every planted value must lie
inside a finding (so redaction removes all of it), whichever rule reports it. Each near miss is the
same kind of file holding no credential (a reference, a placeholder, a locked account, code) and
must produce no finding at all. The values are invented for these tests.
"""

from __future__ import annotations

import pytest

from codeward.privacy.scanner import load_scanner

# (format, path, text, planted values)
TP: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("dockerfile-env", "Dockerfile", "FROM postgres:16\nENV POSTGRES_PASSWORD=swordfish\n", ("swordfish",)),
    ("dockerfile-env-space", "Dockerfile", "FROM mysql:8\nENV MYSQL_ROOT_PASSWORD letmeinplease\n", ("letmeinplease",)),
    (
        "django-settings",
        "mysite/settings.py",
        "DATABASES = {\n    'default': {\n        'USER': 'app',\n        'PASSWORD': 'swordfish',\n    }\n}\n",
        ("swordfish",),
    ),
    (
        "django-secret-key",
        "mysite/settings.py",
        "SECRET_KEY = 'django-insecure-k3x@q!w9z#lm0v2b7n8c4d6f1g5h'\n",
        ("django-insecure-k3x@q!w9z#lm0v2b7n8c4d6f1g5h",),
    ),
    (
        "rails-database-yml",
        "config/database.yml",
        "production:\n  adapter: postgresql\n  username: app\n  password: foobared\n",
        ("foobared",),
    ),
    (
        "rails-master-key",
        "config/master.key",
        "0f5d3c2b1a09f8e7d6c5b4a392817060\n",
        ("0f5d3c2b1a09f8e7d6c5b4a392817060",),
    ),
    (
        "docker-compose",
        "docker-compose.yml",
        "services:\n  db:\n    image: postgres\n    environment:\n      - POSTGRES_PASSWORD=tigerlily\n"
        "  cache:\n    environment:\n      REDIS_PASSWORD: marmalade\n",
        ("tigerlily", "marmalade"),
    ),
    ("tfvars", "prod.tfvars", 'db_username = "admin"\ndb_password = "bluewhale"\n', ("bluewhale",)),
    (
        "ansible",
        "group_vars/all.yml",
        "ansible_user: deploy\nansible_become_pass: pinecone\nansible_ssh_pass: riverbank\n",
        ("pinecone", "riverbank"),
    ),
    (
        "maven-settings",
        "settings.xml",
        "<settings><servers><server><id>nexus</id><username>ci</username>"
        "<password>hazelnut</password></server></servers></settings>\n",
        ("hazelnut",),
    ),
    (
        "wp-config",
        "wp-config.php",
        "<?php\ndefine( 'DB_USER', 'wp' );\ndefine( 'DB_PASSWORD', 'blueberry' );\n"
        "define('NONCE_SALT', 'q8#L!x2@Zr7$Vm4%Kp9^Wn3&Ty6*Bc1(Hd5)');\n",
        ("blueberry", "q8#L!x2@Zr7$Vm4%Kp9^Wn3&Ty6*Bc1(Hd5)"),
    ),
    ("envrc", ".envrc", "export DATABASE_USER=app\nexport DATABASE_PASSWORD=moonlight\n", ("moonlight",)),
    ("redis-conf", "redis.conf", "port 6379\nrequirepass foobared\nmasterauth replicapw\n", ("foobared", "replicapw")),
    (
        "shadow",
        "etc/shadow",
        "root:!:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
        "alice:$6$Qm2vX8kL$Wq8zK2mP4vXr7Tq2zLm9Wq8zK2mP4vXr7Tq2zLm9Wq8zK2mP4vXr7Tq2zLm9Wq8zK2mP4vXr7Tq2zLm9Wq8zK2:19000:0:99999:7:::\n",
        ("$6$Qm2vX8kL$Wq8zK2mP4vXr7Tq2zLm9Wq8zK2mP4vXr7Tq2zLm9Wq8zK2mP4vXr7Tq2zLm9Wq8zK2mP4vXr7Tq2zLm9Wq8zK2",),
    ),
    (
        "htpasswd",
        ".htpasswd",
        "admin:$apr1$Zk3pQ8rT$Wq8zK2mP4vXr7Tq2zLm9W.\n",
        ("$apr1$Zk3pQ8rT$Wq8zK2mP4vXr7Tq2zLm9W.",),
    ),
    (
        "git-credentials",
        ".git-credentials",
        "https://deploy:hunter2hunter@github.com\n",
        ("hunter2hunter",),
    ),
    (
        "filezilla",
        "sitemanager.xml",
        '<Server><Host>ftp.example.com</Host><User>root</User><Pass encoding="base64">c3dvcmRmaXNo</Pass></Server>\n',
        ("c3dvcmRmaXNo",),
    ),
    (
        "dbeaver",
        "data-sources.xml",
        '<connection host="db" port="5432" user="app" password="tangerine"/>\n',
        ("tangerine",),
    ),
    (
        "robomongo",
        "robomongo.json",
        '{"credentials": [{"userName": "mongouser", "userPassword": "mongopass"}], "sshPassphrase": "SSHPass123"}\n',
        ("mongopass", "SSHPass123"),
    ),
    (
        "sftp-config",
        "sftp-config.json",
        '{\n    "host": "example.com",\n    "user": "root",\n    "password": "hunter22",\n    "port": "22"\n}\n',
        ("hunter22",),
    ),
    (
        "sql-dump",
        "dump.sql",
        "INSERT INTO `users` VALUES\n(1, 'rogers', '$2y$12$Qm2vX8kL4pZk3pQ8rTm2WeWq8zK2mP4vXr7Tq2zLm9Wq8zK2mP4vX', 1);\n",
        ("$2y$12$Qm2vX8kL4pZk3pQ8rTm2WeWq8zK2mP4vXr7Tq2zLm9Wq8zK2mP4vX",),
    ),
    ("netrc", ".netrc", "machine api.example.com\n  login deploy\n  password Wq8zK2mP4v\n", ("Wq8zK2mP4v",)),
    ("pgpass", ".pgpass", "db.internal:5432:app:appuser:meadowlark\n", ("meadowlark",)),
    (
        "jdbc",
        "application.properties",
        "spring.datasource.url=jdbc:mysql://db:3306/app?user=app&password=Zk3pQ8rTm2\n",
        ("Zk3pQ8rTm2",),
    ),
    ("jdbc-oracle", "app.conf", "url=jdbc:oracle:thin:scott/tigerstripe@//db:1521/orcl\n", ("tigerstripe",)),
    (
        "odbc",
        "odbc.ini",
        "ConnectionString=Driver={ODBC Driver 18};Server=db;Uid=sa;Pwd=Qm2vX8kL4p;\n",
        ("Qm2vX8kL4p",),
    ),
    (
        "libpq-dsn",
        "db.py",
        'conn = psycopg2.connect("host=db dbname=app user=app password=Zk3pQ8rTm2")\n',
        ("Zk3pQ8rTm2",),
    ),
    (
        "docker-config",
        ".docker/config.json",
        '{"auths": {"registry.example.com": {"auth": "ZGVwbG95OnN3b3JkZmlzaDIy"}}}\n',
        ("ZGVwbG95OnN3b3JkZmlzaDIy",),
    ),
    (
        "npmrc",
        ".npmrc",
        "//registry.npmjs.org/:_authToken=npm_Qm2vX8kL4pZk3pQ8rTm2Wq8zK2mP4vXr7Tq2\n",
        ("npm_Qm2vX8kL4pZk3pQ8rTm2Wq8zK2mP4vXr7Tq2",),
    ),
    ("pypirc", ".pypirc", "[pypi]\nusername = __token__\npassword = riverstone\n", ("riverstone",)),
    (
        "cargo-credentials",
        ".cargo/credentials.toml",
        '[registry]\ntoken = "cioQm2vX8kL4pZk3pQ8rTm2Wq8zK2mP4vXr"\n',
        ("cioQm2vX8kL4pZk3pQ8rTm2Wq8zK2mP4vXr",),
    ),
    (
        "putty-ppk",
        "key.ppk",
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: test\nPublic-Lines: 2\n"
        "AAAAC3NzaC1lZDI1NTE5AAAAIFhqQm2vX8kL4pZk3pQ8rTm2Wq8zK2mP4vXr7Tq2zLm9\nWq8z\n"
        "Private-Lines: 1\nAAAAIFhqQm2vX8kL4pZk3pQ8rTm2Wq8zK2mP4vXr7Tq2zLm9Wq8zK2mP\n"
        "Private-MAC: 0f5d3c2b1a09f8e7d6c5b4a392817060\n",
        ("AAAAIFhqQm2vX8kL4pZk3pQ8rTm2Wq8zK2mP4vXr7Tq2zLm9Wq8zK2mP",),
    ),
    (
        "firefox-logins",
        "logins.json",
        '{"logins": [{"hostname": "https://example.com",\n'
        '"encryptedUsername": "MDIEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECF7kv84cNrhK",\n'
        '"encryptedPassword": "MDoEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECBUufYeWbuzi"}]}\n',
        (
            "MDIEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECF7kv84cNrhK",
            "MDoEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECBUufYeWbuzi",
        ),
    ),
    (
        "laravel-env",
        "web/.env",
        "APP_KEY=base64:4StV8PVvCLC6gkJXgGdkYdlWW0suqjb2sj0QvDHx3Hsn\nDB_PASSWORD=admin123\n",
        (
            "base64:4StV8PVvCLC6gkJXgGdkYdlWW0suqjb2sj0QvDHx3Hsn",
            "admin123",
        ),
    ),
]

# (format, path, text): the same formats with nothing secret in them
NEAR: list[tuple[str, str, str]] = [
    (
        "dockerfile-env-ref",
        "Dockerfile",
        "ENV POSTGRES_PASSWORD=${POSTGRES_PASSWORD}\nENV POSTGRES_PASSWORD_FILE=/run/secrets/db\n",
    ),
    ("django-settings-env", "mysite/settings.py", "DATABASES = {'default': {'PASSWORD': os.environ['DB_PASSWORD']}}\n"),
    ("rails-database-yml-erb", "config/database.yml", "production:\n  password: <%= ENV['DB_PASSWORD'] %>\n"),
    ("compose-ref", "docker-compose.yml", "    environment:\n      - POSTGRES_PASSWORD=${DB_PASSWORD}\n"),
    ("tfvars-var", "main.tf", "password = var.db_password\n"),
    ("ansible-vault", "group_vars/all.yml", 'ansible_become_pass: "{{ vault_become_pass }}"\n'),
    ("maven-env", "settings.xml", "<password>${env.NEXUS_PASSWORD}</password>\n"),
    ("wp-config-template", "wp-config.php", "define('NONCE_SALT', 'put your unique phrase here');\n"),
    ("redis-ref", "redis.conf", "# requirepass foobared\nrequirepass ${REDIS_PASSWORD}\n"),
    (
        "shadow-locked",
        "etc/shadow",
        "root::19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nbin:!:19000:0:99999:7:::\nsshd:!*:19000::::::\n",
    ),
    ("passwd", "etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
    ("pgpass-comment", "notes.txt", "db.internal:5432:app:appuser\n"),
    ("python-kwargs", "client.py", "def login(self, user=None, password=None):\n    password = self.password\n"),
    ("python-test-value", "tests/test_login.py", "password = 'testpass'\nclient.login('user', 'pw1')\n"),
    ("form-field", "form.html", '<input type="password" name="password" autocomplete="current-password">\n'),
    ("json-field-name", "schema.json", '{"passwordField": "password", "usernameField": "login"}\n'),
    ("prose", "README.md", "Choose a strong password\npassword reset\n"),
    ("firefox-empty", "logins.json", '{"encryptedUsername": "", "encryptedPassword": ""}\n'),
]


@pytest.mark.parametrize(("fmt", "path", "text", "values"), TP, ids=[t[0] for t in TP])
def test_every_planted_value_is_covered(fmt: str, path: str, text: str, values: tuple[str, ...]) -> None:
    findings = load_scanner().scan(text, path=path)
    spans = [(f.start, f.end) for f in findings]
    for v in values:
        s = text.index(v)
        e = s + len(v)
        assert any(fs <= s and e <= fe for fs, fe in spans), f"{fmt}: {v!r} not covered by {findings}"


@pytest.mark.parametrize(("fmt", "path", "text"), NEAR, ids=[t[0] for t in NEAR])
def test_near_miss_has_no_finding(fmt: str, path: str, text: str) -> None:
    assert load_scanner().scan(text, path=path) == []
