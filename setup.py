from setuptools import find_packages, setup

setup(
    name="zeroops-receiver",
    version="0.1.0",
    description="Alertmanager webhook receiver: alerts into PostgreSQL issues, written through to Redis",
    python_requires=">=3.11",
    packages=find_packages(include=["domain*", "application*", "adapters*", "entrypoints*"]),
    package_data={"adapters.postgres": ["migrations/*.sql"]},
    install_requires=[
        "aiohttp>=3.9,<4",
        "aiopg>=1.4,<2",
        "psycopg2-binary>=2.9,<3",
        "redis[hiredis]>=5.0,<9",  # hiredis: replies parsed in C, the cache write was CPU-bound
        "dependency-injector>=4.41,<5",
        "structlog>=24.1",
        "prometheus-client>=0.20",
        "PyYAML>=6",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-aiohttp>=1.0",
            "pytest-asyncio>=0.23",
            "import-linter>=2.0",
            "ruff>=0.6",
            "mypy>=1.10",
        ],
    },
    entry_points={"console_scripts": ["zeroops=entrypoints.__main__:main"]},
)
